/**
 * Generated from the Baton OpenAPI document (lambdas/api/openapi.ts) by openapi-typescript.
 * Do not edit: run `npm run gen:client`.
 */
export interface paths {
    "/tasks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List tasks, newest first */
        get: operations["listTasks"];
        put?: never;
        /**
         * Submit a task
         * @description A goal, and optionally a plan (a DAG of steps), inputs and a policy. Without a plan the planner makes one.
         */
        post: operations["submitTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/tasks/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A task with its plan, step statuses and result */
        get: operations["getTask"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/tasks/{id}/status": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The task status as listed: one read, for pollers
         * @description The task summary from its one stored record (what GET /tasks lists), without the plan, the steps and the trail that GET /tasks/{id} folds. The status is the projection the store writes with each status-changing event, so it can trail GET /tasks/{id} by the moment between an event and its projection.
         */
        get: operations["getTaskStatus"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/tasks/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The task audit trail, ordered by seq */
        get: operations["listTaskEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/tasks/{id}/events/stream": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The audit trail as server-sent events (long-poll SSE): the events after the cursor, then the connection closes with a retry hint
         * @description Answers the events after `Last-Event-ID` (what EventSource sends on reconnect) or `?after=`, waiting up to `wait` seconds for the first new one, then closes: API Gateway HTTP APIs buffer Lambda responses, so the stream is a sequence of short answers. Each event has its `seq` as `id`, its type as `event` and the event (as in GET /tasks/{id}/events) as JSON `data`; the answer starts with `retry: <ms>` (0 when more events wait). Once the task has ended and nothing is left after the cursor the answer is one `end` event with `{ status }`.
         */
        get: operations["streamTaskEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/tasks/{id}/artifacts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Artifacts of a task */
        get: operations["listTaskArtifacts"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/tasks/{id}/artifacts/{artifactId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The bytes of one artifact */
        get: operations["getArtifact"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/tasks/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Cancel a task (idempotent) */
        post: operations["cancelTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/tasks/{id}/redrive": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Re-run what did not succeed in a FAILED or DEGRADED task */
        post: operations["redriveTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dead-letters": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Failed runs that have not been redriven (include=all: also redriven ones) */
        get: operations["listDeadLetters"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/approvals": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Approvals by status (default PENDING), newest first, each with its signed link */
        get: operations["listApprovals"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/approvals/{id}/decision": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Decide an approval as the API principal (approve | reject; a review also: retry, or approve with a replacement summary/output) */
        post: operations["decideApproval"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/approvals/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The approval page of a signed link (no API auth: the signature is the credential); changes nothing */
        get: operations["viewApprovalPage"];
        put?: never;
        /** Decide through the page's form (no API auth: the signed link, the page's CSRF token and a same-origin POST) */
        post: operations["submitApprovalPage"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness */
        get: operations["healthCheck"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This document (locally served without a key; in AWS behind IAM like the other routes) */
        get: operations["getOpenApiDocument"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** ApprovalDecidedEvent */
        ApprovalDecidedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "ApprovalDecided";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                approvalId: string;
                /** @enum {string} */
                kind: "step" | "plan" | "review";
                round: number;
                /** @enum {string} */
                decision: "approve" | "reject" | "retry";
                approver: string;
                /** @enum {string} */
                via: "link" | "api" | "timeout";
                at: string;
                comment?: string;
                summary?: string;
                output?: components["schemas"]["JsonValue"];
                escalated?: boolean;
            };
        };
        ApprovalList: {
            approvals: {
                id: string;
                taskId: string;
                stepId?: string;
                /** @enum {string} */
                kind: "step" | "plan" | "review";
                /** Format: date-time */
                requestedAt: string;
                /** Format: date-time */
                expiresAt: string;
                url: string;
            }[];
        };
        /** ApprovalRequestedEvent */
        ApprovalRequestedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "ApprovalRequested";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                approvalId: string;
                /** @enum {string} */
                kind: "step" | "plan" | "review";
                round: number;
                escalation: boolean;
                requestedAt: string;
                expiresAt: string;
                timeoutSeconds: number;
                /** @enum {string} */
                onTimeout: "reject" | "escalate";
                attempt?: number;
                failure?: {
                    name: string;
                    message: string;
                };
            };
        };
        ArtifactList: {
            artifacts: {
                id: string;
                stepId: string;
                name: string;
                contentType: string;
                size: number;
                sha256: string;
            }[];
        };
        /** ArtifactStoredEvent */
        ArtifactStoredEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "ArtifactStored";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                artifactId: string;
                name: string;
                contentType: string;
                size: number;
                sha256: string;
            };
        };
        CancelTaskResponse: {
            taskId: string;
            /** @constant */
            status: "CANCELLED";
        };
        CreateTaskRequest: {
            goal: string;
            plan?: {
                steps: {
                    id: string;
                    agent: string;
                    input?: {
                        [key: string]: components["schemas"]["JsonValue"];
                    };
                    dependsOn?: string[];
                    timeoutSeconds?: number;
                    retry?: {
                        maxAttempts: number;
                        intervalSeconds?: number;
                        backoffRate?: number;
                    };
                    fallbackAgent?: string;
                    /** @enum {string} */
                    approval?: "none" | "before";
                    approvalTimeoutSeconds?: number;
                    optional?: boolean;
                    forEach?: {
                        items: string;
                        maxConcurrency?: number;
                        itemsPerBatch?: number;
                        toleratedFailurePercentage?: number;
                    };
                }[];
            };
            inputs?: {
                [key: string]: components["schemas"]["JsonValue"];
            };
            policy?: {
                allowDegraded?: boolean;
                requirePlanApproval?: boolean;
                approvalTimeoutSeconds?: number;
                /** @enum {string} */
                onApprovalTimeout?: "reject" | "escalate";
                humanReviewOnFailure?: boolean;
                maxConcurrency?: number;
                maxTokens?: number;
            };
        };
        CreateTaskResponse: {
            taskId: string;
            /** @enum {string} */
            status: "QUEUED" | "PLANNING" | "RUNNING" | "AWAITING_APPROVAL" | "SUCCEEDED" | "DEGRADED" | "FAILED" | "CANCELLED";
            links: {
                self: string;
                events: string;
                artifacts: string;
            };
        };
        DeadLetterList: {
            deadLetters: {
                taskId: string;
                run: number;
                goal: string;
                /** @enum {string} */
                status: "OPEN" | "REDRIVEN";
                at: string;
                error: {
                    name: string;
                    message: string;
                };
                failedSteps: {
                    stepId: string;
                    status: string;
                    error?: {
                        name: string;
                        message: string;
                    };
                }[];
                traceId: string;
                links: {
                    task: string;
                    events: string;
                    redrive: string;
                };
                redrivenAt?: string;
            }[];
        };
        /** DeadLetterRecordedEvent */
        DeadLetterRecordedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "DeadLetterRecorded";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                run: number;
                error: {
                    name: string;
                    message: string;
                };
                failedSteps: string[];
            };
        };
        DecisionRequest: {
            /** @enum {string} */
            decision: "approve" | "reject" | "retry";
            comment?: string;
            summary?: string;
            output?: components["schemas"]["JsonValue"];
        };
        DecisionResponse: {
            approval: {
                id: string;
                taskId: string;
                stepId?: string;
                /** @enum {string} */
                kind: "step" | "plan" | "review";
                /** @enum {string} */
                status: "PENDING" | "DECIDED" | "EXPIRED";
                /** Format: date-time */
                requestedAt: string;
                /** Format: date-time */
                expiresAt: string;
                decision?: {
                    /** @enum {string} */
                    decision: "approve" | "reject" | "retry";
                    approver: string;
                    comment?: string;
                    /** @enum {string} */
                    via: "link" | "api" | "timeout";
                    /** Format: date-time */
                    at: string;
                    summary?: string;
                    output?: components["schemas"]["JsonValue"];
                };
            };
        };
        EventPage: {
            events: components["schemas"]["TaskEvent"][];
            /** @description Present when there are more events: pass it as `after` for the next page */
            next?: number;
            /** @description Present (true) when the events after the last one given wait behind a smaller seq that may still be written (a writer numbers its events before it stores them): read again shortly with `after` the last seq given. A number missing for 10 s is a gap for good and is passed over. */
            heldBack?: boolean;
        };
        /** ExecutionResumedEvent */
        ExecutionResumedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "ExecutionResumed";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                run: number;
                executionArn: string;
                reason: string;
            };
        };
        /** ExecutionStartedEvent */
        ExecutionStartedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "ExecutionStarted";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                run: number;
                executionName: string;
                executionArn?: string;
            };
        };
        /** FanOutCompletedEvent */
        FanOutCompletedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "FanOutCompleted";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                total: number;
                succeeded: number;
                failed: number;
                toleratedFailurePercentage: number;
                withinTolerance: boolean;
                artifactId?: string;
            };
        };
        /** FanOutItemFailedEvent */
        FanOutItemFailedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "FanOutItemFailed";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                index: number;
                attempts: number;
                error: {
                    name: string;
                    message: string;
                };
            };
        };
        /** FanOutStartedEvent */
        FanOutStartedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "FanOutStarted";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                attempt: number;
                run: number;
                agent: string;
                items: string;
                total: number;
                rerun?: number;
                maxConcurrency: number;
                itemsPerBatch: number;
                toleratedFailurePercentage: number;
            };
        };
        GatewayMessage: {
            message: string;
        };
        Health: {
            /** @constant */
            ok: true;
        };
        /** @description Any JSON value */
        JsonValue: string | number | boolean | null | components["schemas"]["JsonValue"][] | {
            [key: string]: components["schemas"]["JsonValue"];
        };
        /** ModelCalledEvent */
        ModelCalledEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "ModelCalled";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                call: number;
                attempt?: number;
                model: string;
                argsDigest: string;
                tools: string[];
                durationMs: number;
                /** @enum {string} */
                outcome: "ok" | "over_budget" | "refused" | "error";
                usage: {
                    inputTokens: number;
                    outputTokens: number;
                    totalTokens: number;
                };
                /** @enum {string} */
                stopReason?: "end" | "tool_use" | "max_tokens" | "other";
                error?: {
                    name: string;
                    message: string;
                };
                stepTokensUsed: number;
                taskTokensUsed?: number;
            };
        };
        /** PlanCreatedEvent */
        PlanCreatedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "PlanCreated";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                source: string;
                rationale?: string;
                steps: {
                    id: string;
                    agent: string;
                    dependsOn: string[];
                }[];
            };
        };
        /** PlanningStartedEvent */
        PlanningStartedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "PlanningStarted";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: Record<string, never>;
        };
        Problem: {
            type: string;
            title: string;
            status: number;
            detail: string;
            instance?: string;
            issues?: {
                path: string;
                message: string;
            }[];
        } & {
            [key: string]: unknown;
        };
        RedriveTaskResponse: {
            taskId: string;
            /** @constant */
            status: "QUEUED";
            run: number;
        };
        /** StepAttemptFailedEvent */
        StepAttemptFailedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "StepAttemptFailed";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                attempt: number;
                /** @enum {string} */
                phase: "agent" | "fallback" | "gate";
                error: {
                    name: string;
                    message: string;
                };
                willRetry: boolean;
                retryInSeconds?: number;
                nextAttempt?: number;
                reason: string;
                willReview?: boolean;
            };
        };
        /** StepFailedEvent */
        StepFailedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "StepFailed";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                attempts: number;
                error: {
                    name: string;
                    message: string;
                };
                reason: string;
                /** @enum {string} */
                phase?: "approval" | "review";
                approvalId?: string;
            };
        };
        /** StepFallbackStartedEvent */
        StepFallbackStartedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "StepFallbackStarted";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                fallbackAgent: string;
                attempt: number;
                failure: {
                    agent: string;
                    name: string;
                    message: string;
                };
            };
        };
        /** StepReadyEvent */
        StepReadyEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "StepReady";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: Record<string, never>;
        };
        /** StepSkippedEvent */
        StepSkippedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "StepSkipped";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                reason: string;
                failedDependency: string;
                error: {
                    name: string;
                    message: string;
                };
            };
        };
        /** StepStartedEvent */
        StepStartedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "StepStarted";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                attempt: number;
                agent: string;
                run: number;
                rerun?: number;
            };
        };
        /** StepSucceededEvent */
        StepSucceededEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "StepSucceeded";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                attempt: number;
                agent: string;
                summary: string;
                output?: components["schemas"]["JsonValue"];
                artifacts: {
                    id: string;
                    stepId: string;
                    name: string;
                    contentType: string;
                    size: number;
                    sha256: string;
                }[];
                /** @constant */
                source?: "review";
                approvalId?: string;
                reviewedBy?: string;
            };
        };
        /** StepWaitingEvent */
        StepWaitingEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "StepWaiting";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                waitingFor: string[];
            };
        };
        /** TaskCancelledEvent */
        TaskCancelledEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "TaskCancelled";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                run: number;
                /** @enum {string} */
                previousStatus: "QUEUED" | "PLANNING" | "RUNNING" | "AWAITING_APPROVAL" | "SUCCEEDED" | "DEGRADED" | "FAILED" | "CANCELLED";
            };
        };
        /** TaskDegradedEvent */
        TaskDegradedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "TaskDegraded";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                result?: {
                    steps: {
                        [key: string]: {
                            /** @enum {string} */
                            status: "PENDING" | "WAITING" | "AWAITING_APPROVAL" | "RUNNING" | "SUCCEEDED" | "FAILED" | "SKIPPED" | "CANCELLED";
                            summary?: string;
                            output?: components["schemas"]["JsonValue"];
                            artifacts?: string[];
                            error?: {
                                name: string;
                                message: string;
                            };
                            items?: {
                                total: number;
                                succeeded: number;
                                failed: number;
                            };
                        };
                    };
                    missing?: string[];
                };
                missing?: string[];
                error?: {
                    name: string;
                    message: string;
                };
            };
        };
        TaskEvent: components["schemas"]["TaskSubmittedEvent"] | components["schemas"]["ExecutionStartedEvent"] | components["schemas"]["PlanningStartedEvent"] | components["schemas"]["PlanCreatedEvent"] | components["schemas"]["StepWaitingEvent"] | components["schemas"]["StepReadyEvent"] | components["schemas"]["StepStartedEvent"] | components["schemas"]["StepAttemptFailedEvent"] | components["schemas"]["StepSucceededEvent"] | components["schemas"]["StepFailedEvent"] | components["schemas"]["StepSkippedEvent"] | components["schemas"]["ArtifactStoredEvent"] | components["schemas"]["TaskSucceededEvent"] | components["schemas"]["TaskDegradedEvent"] | components["schemas"]["TaskFailedEvent"] | components["schemas"]["TaskCancelledEvent"] | components["schemas"]["ExecutionResumedEvent"] | components["schemas"]["TaskRedrivenEvent"] | components["schemas"]["StepFallbackStartedEvent"] | components["schemas"]["DeadLetterRecordedEvent"] | components["schemas"]["ApprovalRequestedEvent"] | components["schemas"]["ApprovalDecidedEvent"] | components["schemas"]["ToolCalledEvent"] | components["schemas"]["ModelCalledEvent"] | components["schemas"]["FanOutStartedEvent"] | components["schemas"]["FanOutItemFailedEvent"] | components["schemas"]["FanOutCompletedEvent"];
        /** TaskFailedEvent */
        TaskFailedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "TaskFailed";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                result?: {
                    steps: {
                        [key: string]: {
                            /** @enum {string} */
                            status: "PENDING" | "WAITING" | "AWAITING_APPROVAL" | "RUNNING" | "SUCCEEDED" | "FAILED" | "SKIPPED" | "CANCELLED";
                            summary?: string;
                            output?: components["schemas"]["JsonValue"];
                            artifacts?: string[];
                            error?: {
                                name: string;
                                message: string;
                            };
                            items?: {
                                total: number;
                                succeeded: number;
                                failed: number;
                            };
                        };
                    };
                    missing?: string[];
                };
                missing?: string[];
                error?: {
                    name: string;
                    message: string;
                };
            };
        };
        TaskPage: {
            tasks: {
                taskId: string;
                goal: string;
                /** @enum {string} */
                status: "QUEUED" | "PLANNING" | "RUNNING" | "AWAITING_APPROVAL" | "SUCCEEDED" | "DEGRADED" | "FAILED" | "CANCELLED";
                createdAt: string;
                updatedAt: string;
            }[];
            next?: string;
        };
        /** TaskRedrivenEvent */
        TaskRedrivenEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "TaskRedriven";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                run: number;
                previousRun: number;
                /** @enum {string} */
                previousStatus: "QUEUED" | "PLANNING" | "RUNNING" | "AWAITING_APPROVAL" | "SUCCEEDED" | "DEGRADED" | "FAILED" | "CANCELLED";
            };
        };
        /** TaskSubmittedEvent */
        TaskSubmittedEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "TaskSubmitted";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                goal: string;
                explicitPlan: boolean;
                policy?: {
                    allowDegraded?: boolean;
                    requirePlanApproval?: boolean;
                    approvalTimeoutSeconds?: number;
                    /** @enum {string} */
                    onApprovalTimeout?: "reject" | "escalate";
                    humanReviewOnFailure?: boolean;
                    maxConcurrency?: number;
                    maxTokens?: number;
                };
                idempotencyKey?: string;
            };
        };
        /** TaskSucceededEvent */
        TaskSucceededEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "TaskSucceeded";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                result?: {
                    steps: {
                        [key: string]: {
                            /** @enum {string} */
                            status: "PENDING" | "WAITING" | "AWAITING_APPROVAL" | "RUNNING" | "SUCCEEDED" | "FAILED" | "SKIPPED" | "CANCELLED";
                            summary?: string;
                            output?: components["schemas"]["JsonValue"];
                            artifacts?: string[];
                            error?: {
                                name: string;
                                message: string;
                            };
                            items?: {
                                total: number;
                                succeeded: number;
                                failed: number;
                            };
                        };
                    };
                    missing?: string[];
                };
                missing?: string[];
                error?: {
                    name: string;
                    message: string;
                };
            };
        };
        TaskSummary: {
            taskId: string;
            goal: string;
            /** @enum {string} */
            status: "QUEUED" | "PLANNING" | "RUNNING" | "AWAITING_APPROVAL" | "SUCCEEDED" | "DEGRADED" | "FAILED" | "CANCELLED";
            createdAt: string;
            updatedAt: string;
        };
        TaskView: {
            taskId: string;
            goal: string;
            /** @enum {string} */
            status: "QUEUED" | "PLANNING" | "RUNNING" | "AWAITING_APPROVAL" | "SUCCEEDED" | "DEGRADED" | "FAILED" | "CANCELLED";
            createdAt: string;
            updatedAt: string;
            plan: {
                steps: {
                    id: string;
                    agent: string;
                    dependsOn: string[];
                    /** @enum {string} */
                    status: "PENDING" | "WAITING" | "AWAITING_APPROVAL" | "RUNNING" | "SUCCEEDED" | "FAILED" | "SKIPPED" | "CANCELLED";
                    attempts: number;
                    input?: {
                        [key: string]: components["schemas"]["JsonValue"];
                    };
                    /** @enum {string} */
                    approval?: "none" | "before";
                    startedAt?: string;
                    endedAt?: string;
                    summary?: string;
                    output?: components["schemas"]["JsonValue"];
                    error?: {
                        name: string;
                        message: string;
                    };
                    forEach?: {
                        items: string;
                    };
                    fanOut?: {
                        total: number;
                        succeeded: number;
                        failed: number;
                        running: number;
                        pending: number;
                        rerun?: number;
                        items: string;
                    };
                }[];
                source?: string;
                rationale?: string;
            };
            result?: {
                steps: {
                    [key: string]: {
                        /** @enum {string} */
                        status: "PENDING" | "WAITING" | "AWAITING_APPROVAL" | "RUNNING" | "SUCCEEDED" | "FAILED" | "SKIPPED" | "CANCELLED";
                        summary?: string;
                        output?: components["schemas"]["JsonValue"];
                        artifacts?: string[];
                        error?: {
                            name: string;
                            message: string;
                        };
                        items?: {
                            total: number;
                            succeeded: number;
                            failed: number;
                        };
                    };
                };
                missing?: string[];
            };
            error?: {
                name: string;
                message: string;
            };
            traceId: string;
        };
        /** ToolCalledEvent */
        ToolCalledEvent: {
            id: string;
            seq: number;
            /** Format: date-time */
            at: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "ToolCalled";
            taskId: string;
            stepId?: string;
            item?: number;
            traceId: string;
            data: {
                call: number;
                attempt?: number;
                tool: string;
                argsDigest: string;
                durationMs: number;
                /** @enum {string} */
                outcome: "ok" | "error";
                error?: {
                    name: string;
                    message: string;
                };
                startedAt: string;
            };
        };
    };
    responses: {
        /** @description Invalid request: `detail` says what to fix, `issues` lists each problem */
        BadRequest: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description Local mode: missing or wrong API key (`Authorization: Bearer <key>`) */
        Unauthorized: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description AWS: the IAM authorizer refused the request (unsigned, bad signature, or no execute-api:Invoke) */
        Forbidden: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["GatewayMessage"];
            };
        };
        /** @description No such resource */
        NotFound: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description The request conflicts with the current state */
        Conflict: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description The approval expired, or its gate is no longer waiting */
        Gone: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description The body is over 256 KiB (problem document), or over 10 MB (API Gateway message) */
        PayloadTooLarge: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
                "application/json": components["schemas"]["GatewayMessage"];
            };
        };
        /** @description Throttled by the API stage (API Gateway message) */
        TooManyRequests: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["GatewayMessage"];
            };
        };
        /** @description The request failed on our side; it is safe to retry */
        InternalError: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
    };
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    listTasks: {
        parameters: {
            query?: {
                status?: "QUEUED" | "PLANNING" | "RUNNING" | "AWAITING_APPROVAL" | "SUCCEEDED" | "DEGRADED" | "FAILED" | "CANCELLED";
                limit?: number;
                /** @description The `next` of the previous page */
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of tasks */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskPage"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
    submitTask: {
        parameters: {
            query?: never;
            header?: {
                /** @description Same key and same body: the same task; same key and another body: 409 */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateTaskRequest"];
            };
        };
        responses: {
            /** @description Accepted */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CreateTaskResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            /** @description The Idempotency-Key was used with another body */
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
    getTask: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Task or approval id (1-128 of A-Z a-z 0-9 _ -) */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The task */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskView"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
    getTaskStatus: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Task or approval id (1-128 of A-Z a-z 0-9 _ -) */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The task summary */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskSummary"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
    listTaskEvents: {
        parameters: {
            query?: {
                /** @description Events with a greater seq (the `next` of the previous page) */
                after?: number;
                limit?: number;
            };
            header?: never;
            path: {
                /** @description Task or approval id (1-128 of A-Z a-z 0-9 _ -) */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of events */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EventPage"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
    streamTaskEvents: {
        parameters: {
            query?: {
                after?: number;
                wait?: number;
            };
            header?: {
                /** @description The seq of the last event received (wins over `after`) */
                "Last-Event-ID"?: string;
            };
            path: {
                /** @description Task or approval id (1-128 of A-Z a-z 0-9 _ -) */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Events as text/event-stream frames (`id`, `event`, `data`), then `end` once the task ended */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
    listTaskArtifacts: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Task or approval id (1-128 of A-Z a-z 0-9 _ -) */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Artifacts */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ArtifactList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
    getArtifact: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Task or approval id (1-128 of A-Z a-z 0-9 _ -) */
                id: string;
                /** @description Artifact id */
                artifactId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The artifact bytes (artifacts up to 4 MiB), with its content type; `x-content-sha256` is their SHA-256 */
            200: {
                headers: {
                    /** @description SHA-256 of the bytes (hex) */
                    "x-content-sha256"?: string;
                    /** @description Size of the bytes */
                    "x-content-length"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "*/*": string;
                };
            };
            /** @description Larger artifacts: `location` is a presigned S3 URL valid for 5 minutes (follow it without the API credentials); `x-content-sha256` and `x-content-length` describe the bytes it serves */
            302: {
                headers: {
                    /** @description Presigned S3 GET */
                    location?: string;
                    /** @description SHA-256 of the bytes (hex) */
                    "x-content-sha256"?: string;
                    /** @description Size of the bytes */
                    "x-content-length"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
    cancelTask: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Task or approval id (1-128 of A-Z a-z 0-9 _ -) */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Cancelled */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CancelTaskResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            /** @description The task already ended (`taskStatus` says how) */
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
    redriveTask: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Task or approval id (1-128 of A-Z a-z 0-9 _ -) */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Queued */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RedriveTaskResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            /** @description The task cannot be redriven now (`taskStatus` says why) */
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
    listDeadLetters: {
        parameters: {
            query?: {
                include?: "open" | "all";
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Dead letters, newest first */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DeadLetterList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
    listApprovals: {
        parameters: {
            query?: {
                status?: "PENDING" | "DECIDED" | "EXPIRED";
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Approvals */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApprovalList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
    decideApproval: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Task or approval id (1-128 of A-Z a-z 0-9 _ -) */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DecisionRequest"];
            };
        };
        responses: {
            /** @description The decided approval */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DecisionResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            /** @description Already decided (the problem has `decided`: decision, approver, at, via) */
            409: components["responses"]["Conflict"];
            410: components["responses"]["Gone"];
            413: components["responses"]["PayloadTooLarge"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
    viewApprovalPage: {
        parameters: {
            query: {
                /** @description Link expiry, unix seconds */
                exp: string;
                /** @description HMAC-SHA256 of id and exp (base64url) */
                sig: string;
            };
            header?: never;
            path: {
                /** @description Task or approval id (1-128 of A-Z a-z 0-9 _ -) */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description What is being approved, and the decision form */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description Bad signature, or a POST not from the page (Origin / Sec-Fetch-Site, CSRF token); says nothing about the task */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description No such approval */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description Already decided: what, by whom, when */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description The link expired, or the gate closed */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            429: components["responses"]["TooManyRequests"];
            /** @description The page failed on our side */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    submitApprovalPage: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Task or approval id (1-128 of A-Z a-z 0-9 _ -) */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-www-form-urlencoded": {
                    /** @enum {string} */
                    decision: "approve" | "reject" | "retry";
                    comment?: string;
                    approver: string;
                    csrf: string;
                    exp: string;
                    sig: string;
                    summary?: string;
                    /** @description Review gates with approve: the replacement output as JSON text */
                    output?: string;
                };
            };
        };
        responses: {
            /** @description The decision, recorded */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description Invalid form */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description Bad signature, or a POST not from the page (Origin / Sec-Fetch-Site, CSRF token); says nothing about the task */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description No such approval */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description Already decided: what, by whom, when */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description The link expired, or the gate closed */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            429: components["responses"]["TooManyRequests"];
            /** @description The page failed on our side */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    healthCheck: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
    getOpenApiDocument: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The OpenAPI 3.1 document */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
}
