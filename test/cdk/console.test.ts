/**
 * The console in AWS: assets in a private bucket behind CloudFront (origin access control), a
 * Cognito user pool for people, and the console's routes on the HTTP API with the pool's JWT
 * authorizer beside the IAM-authorized routes.
 */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_ROUTES, routeKeyOf } from '../../lambdas/api/route-guard.js';
import { CONSOLE_METADATA } from '../../lib/aws/console.js';
import { synthStack } from './synth.js';

type Resource = { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> };

describe('console hosting', () => {
  let template: Template;
  let resources: Record<string, Resource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  beforeAll(() => {
    template = synthStack().template;
    resources = (template.toJSON() as { Resources: Record<string, Resource> }).Resources;
  });

  it('keeps the assets in a private, SSL-only bucket that only CloudFront reads (OAC)', () => {
    // Act
    const [bucketId, bucket] =
      ofType('AWS::S3::Bucket').find(([, r]) => r.Metadata?.[CONSOLE_METADATA]) ?? [];
    // Assess
    expect(bucketId).toBeDefined();
    expect(bucket?.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 's3:GetObject',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Condition: { StringEquals: { 'AWS:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('Custom::CDKBucketDeployment', {
      DestinationBucketName: { Ref: bucketId },
    });
  });

  it('serves index.html over HTTPS only, with a strict content security policy', () => {
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'index.html',
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https' }),
      }),
    });
    const [[, policy] = []] = ofType('AWS::CloudFront::ResponseHeadersPolicy');
    const csp = JSON.stringify(policy?.Properties);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
  });

  it('signs people in with a Cognito user pool: invited users only, MFA, code flow with PKCE (no secret)', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
    });
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      AllowedOAuthFlows: ['code'],
      GenerateSecret: false,
      AllowedOAuthFlowsUserPoolClient: true,
    });
    template.resourceCountIs('AWS::Cognito::UserPoolDomain', 1);
  });

  it('authorizes the console routes with the pool (JWT) and leaves the other routes on IAM', () => {
    // Act
    const routes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);
    const [[authorizerId, authorizer] = []] = ofType('AWS::ApiGatewayV2::Authorizer');
    // Assess
    expect(authorizer?.Properties).toMatchObject({
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
    });
    expect(JSON.stringify(authorizer?.Properties.JwtConfiguration)).toContain('cognito-idp.');
    for (const r of CONSOLE_ROUTES) {
      expect(routes.find((p) => p.RouteKey === routeKeyOf(r))).toMatchObject({
        AuthorizationType: 'JWT',
        AuthorizerId: { Ref: authorizerId },
      });
    }
    expect(routes.find((p) => p.RouteKey === '$default')).toMatchObject({ AuthorizationType: 'AWS_IAM' });
    // CORS for the console's origin only (API Gateway answers the preflights)
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({
        AllowOrigins: [
          { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [Match.anyValue(), 'DomainName'] }]] },
        ],
        AllowHeaders: Match.arrayWith(['authorization', 'last-event-id']),
      }),
    });
  });

  it('outputs the console URL and the user pool to invite people to', () => {
    template.hasOutput('ConsoleUrl', {});
    template.hasOutput('ConsoleUserPoolId', {});
  });
});
