/** The Gate's Lambda entry (AwaitDependencies): parks a step until its dependencies are done. */
import { awaitDependencies } from '../gate.js';
import { orchestratorDeps, stateFunction } from '../wiring.js';

export const gate = stateFunction('gate', awaitDependencies, orchestratorDeps);
