/** The PrepareItems Lambda entry: resolves a fan-out step's items into one S3 object for its Distributed Map. */

import { prepareItems as prepare } from '../fanout.js';
import { fanOutDeps } from '../fanout-wiring.js';
import { stateFunction } from '../wiring.js';

export const prepareItems = stateFunction('prepareItems', prepare, fanOutDeps);
