/** A task's stored record for tests that write one straight into a store (fields the test cares about overridden). */
import type { StoredTask } from '../../lambdas/core/ports.js';

export function storedTask(overrides: Partial<StoredTask> = {}): StoredTask {
  const at = overrides.createdAt ?? '2030-01-01T00:00:00.000Z';
  return {
    taskId: 't1',
    goal: 'g',
    createdAt: at,
    updatedAt: at,
    traceId: 'tr',
    status: 'QUEUED',
    policy: {},
    run: 1,
    requestHash: 'h',
    ...overrides,
  };
}
