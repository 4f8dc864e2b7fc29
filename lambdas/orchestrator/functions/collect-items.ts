/** The CollectItems Lambda entry: a fan-out step's results.jsonl from its Map Run, its result, its dependents released. */

import { collectItems as collect } from '../fanout.js';
import { fanOutDeps } from '../fanout-wiring.js';
import { stateFunction } from '../wiring.js';

export const collectItems = stateFunction('collectItems', collect, fanOutDeps);
