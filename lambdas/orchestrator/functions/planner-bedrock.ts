/** The Planner's Lambda entry with Bedrock (planner.ts): the deployment's model is a Bedrock model. */
import { createBedrockProvider } from '../../models/bedrock.js';
import { plannerFunction } from './planner.js';

export const planner = plannerFunction({ bedrock: createBedrockProvider });
