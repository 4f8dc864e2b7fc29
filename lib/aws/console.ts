/**
 * The console in AWS: its static assets in a private S3 bucket behind a CloudFront distribution
 * (origin access control), people signed in with a Cognito user pool (hosted UI, authorization
 * code + PKCE), and their calls authorized by a JWT authorizer on the HTTP API's `/console-api/`
 * routes, beside the IAM-authorized routes machine clients use. Construct ids are a contract.
 */
import { CfnOutput, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { CONSOLE_API_PREFIX, CONSOLE_ROUTES } from '../../lambdas/api/route-guard.js';
import { buildConsole } from '../console/build.js';

/** Resource metadata naming the console's asset bucket; local mode serves that asset's folder. */
export const CONSOLE_METADATA = 'baton:console';

export interface ConsoleHostingProps {
  /** Where the server access logs of the console bucket go (prefix `console/`). */
  accessLogs: s3.IBucket;
  removalPolicy: RemovalPolicy;
}

export class ConsoleHosting extends Construct {
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  readonly userPool: cognito.UserPool;
  readonly client: cognito.UserPoolClient;
  readonly domain: cognito.UserPoolDomain;
  /** `https://<distribution domain>`: the console's origin (CORS, callback URL). */
  readonly origin: string;
  private readonly assets: s3assets.Asset;

  constructor(scope: Construct, id: string, props: ConsoleHostingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // The API and the hosted UI by their region's domains: naming the API itself would make a
    // cycle (its CORS configuration names this distribution).
    const connect = [
      `https://*.execute-api.${stack.region}.${stack.urlSuffix}`,
      `https://*.auth.${stack.region}.amazoncognito.com`,
    ].join(' ');
    // The built console (index.html, console/app.js, console/app.css), as local mode serves it.
    this.assets = new s3assets.Asset(this, 'Assets', { path: buildConsole() });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'console/',
    });
    const bucketResource = this.bucket.node.defaultChild as s3.CfnBucket;
    bucketResource.addMetadata(CONSOLE_METADATA, true);
    this.assets.addResourceMetadata(bucketResource, 'ConsoleAssets');

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Baton console',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        compress: true,
        responseHeadersPolicy: new cloudfront.ResponseHeadersPolicy(this, 'Headers', {
          comment: 'Baton console: CSP and security headers',
          securityHeadersBehavior: {
            contentSecurityPolicy: {
              contentSecurityPolicy: [
                "default-src 'self'",
                "script-src 'self'",
                "style-src 'self'",
                "img-src 'self' data: blob:",
                `connect-src 'self' ${connect}`,
                "frame-ancestors 'none'",
                "base-uri 'none'",
                "form-action 'self'",
              ].join('; '),
              override: true,
            },
            contentTypeOptions: { override: true },
            frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
            referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
            strictTransportSecurity: {
              accessControlMaxAge: Duration.days(365),
              includeSubdomains: true,
              override: true,
            },
          },
        }),
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
    });
    this.origin = `https://${this.distribution.distributionDomainName}`;

    // People, not machines: no self sign-up (an operator invites users), MFA (TOTP) required.
    this.userPool = new cognito.UserPool(this, 'Users', {
      selfSignUpEnabled: false,
      signInAliases: { email: true, username: true },
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 12,
        requireDigits: true,
        requireLowercase: true,
        requireUppercase: true,
        requireSymbols: true,
      },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      removalPolicy: props.removalPolicy,
    });
    this.client = this.userPool.addClient('Console', {
      generateSecret: false,
      authFlows: { userSrp: true },
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
        callbackUrls: [`${this.origin}/`],
        logoutUrls: [`${this.origin}/`],
      },
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(1),
      preventUserExistenceErrors: true,
    });
    // A hosted UI domain unique to the stack (its id's UUID part).
    this.domain = this.userPool.addDomain('Domain', {
      cognitoDomain: {
        domainPrefix: Fn.join('-', ['baton', Fn.select(2, Fn.split('/', stack.stackId))]),
      },
    });
  }

  /**
   * The console's routes on the HTTP API (`GET|POST /console-api/{proxy+}`, JWT authorizer of the
   * user pool, same integration as the IAM routes), and its config.json with the deploy-time
   * values, deployed with the assets.
   */
  connectApi(api: apigw.HttpApi, integration: apigw.HttpRouteIntegration): apigw.HttpRoute[] {
    const authorizer = new HttpUserPoolAuthorizer('ConsoleAuthorizer', this.userPool, {
      userPoolClients: [this.client],
    });
    const routes = CONSOLE_ROUTES.flatMap((r) =>
      api.addRoutes({ path: r.path, methods: [apigw.HttpMethod[r.method]], integration, authorizer }),
    );
    const authDomain = `https://${this.domain.domainName}.auth.${Stack.of(this).region}.amazoncognito.com`;
    new s3deploy.BucketDeployment(this, 'Deploy', {
      destinationBucket: this.bucket,
      sources: [
        s3deploy.Source.bucket(this.assets.bucket, this.assets.s3ObjectKey),
        s3deploy.Source.jsonData('console/config.json', {
          apiBase: `${api.apiEndpoint}${CONSOLE_API_PREFIX}`,
          auth: {
            kind: 'cognito',
            domain: authDomain,
            clientId: this.client.userPoolClientId,
            redirectUri: `${this.origin}/`,
            scopes: ['openid', 'email', 'profile'],
          },
        }),
      ],
      distribution: this.distribution,
      distributionPaths: ['/index.html', '/console/*'],
      memoryLimit: 256,
      // The assets are rebuilt from source: deleting the stack deletes them, then the bucket.
      retainOnDelete: false,
    });
    new CfnOutput(Stack.of(this), 'ConsoleUrl', {
      value: `${this.origin}/`,
      description: 'The Baton console (sign in with a user of ConsoleUserPoolId)',
    });
    new CfnOutput(Stack.of(this), 'ConsoleUserPoolId', {
      value: this.userPool.userPoolId,
      description: 'Invite console users here (aws cognito-idp admin-create-user)',
    });
    return routes;
  }
}
