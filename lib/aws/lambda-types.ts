/**
 * The Lambda event and context shapes spool's handlers read, written out so that the package's
 * types need no `@types/aws-lambda`. They are structural subsets of that package's `SQSEvent`,
 * `SQSBatchResponse`, `LambdaFunctionURLEvent` and `Context`: values of those types are
 * accepted as they are.
 *
 * @module
 */

/**
 * The Lambda invocation context (the runtime's `context` argument). The same members as
 * `@types/aws-lambda`'s `Context`, so that a callback given it can hand it on to Powertools'
 * `logger.addContext`.
 */
export interface LambdaContext {
  callbackWaitsForEmptyEventLoop: boolean;
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  /** Milliseconds left before the invocation times out. */
  getRemainingTimeInMillis(): number;
  /** @deprecated The Node.js 0.10 runtime's completion callbacks; resolve or reject instead. */
  done(error?: Error, result?: unknown): void;
  /** @deprecated See {@link LambdaContext.done}. */
  fail(error: Error | string): void;
  /** @deprecated See {@link LambdaContext.done}. */
  succeed(messageOrObject: unknown): void;
}

/** One SQS message of an event source mapping's event. */
export interface SqsRecord {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly attributes: {
    readonly ApproximateReceiveCount: string;
    readonly SentTimestamp: string;
    readonly MessageGroupId?: string | undefined;
    readonly MessageDeduplicationId?: string | undefined;
    readonly ApproximateFirstReceiveTimestamp?: string | undefined;
  };
  readonly messageAttributes?:
    | Readonly<Record<string, { readonly stringValue?: string | undefined; readonly dataType: string }>>
    | undefined;
  readonly eventSourceARN: string;
}

/** An SQS event source mapping's event. */
export interface SqsEvent {
  readonly Records: readonly SqsRecord[];
}

/** A partial batch response (`ReportBatchItemFailures`). */
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** A Lambda function URL request (payload format 2.0), as far as spool reads it. */
export interface FunctionUrlEvent {
  readonly rawPath?: string | undefined;
  readonly rawQueryString?: string | undefined;
  readonly headers?: Readonly<Record<string, string | undefined>> | undefined;
  readonly body?: string | null | undefined;
  readonly isBase64Encoded?: boolean | undefined;
  readonly requestContext?:
    | {
        readonly requestId?: string | undefined;
        readonly http?: { readonly method?: string | undefined; readonly path?: string | undefined } | undefined;
        /**
         * Who made the request: `iam` when a function URL's auth type is `AWS_IAM` (absent with
         * `NONE`), or behind an API Gateway HTTP API with an IAM authorizer; `jwt` behind one with a
         * JWT authorizer.
         */
        readonly authorizer?:
          | {
              readonly iam?: FunctionUrlIamIdentity | null | undefined;
              readonly jwt?: { readonly claims?: Readonly<Record<string, unknown>> | undefined } | null | undefined;
            }
          | null
          | undefined;
      }
    | undefined;
}

/**
 * The IAM identity that signed a function URL request (`requestContext.authorizer.iam`), as Lambda
 * fills it in for `AWS_IAM` auth. `userArn` is the principal: `arn:aws:iam::<account>:user/<name>`
 * for an IAM user, `arn:aws:sts::<account>:assumed-role/<role>/<session>` for a role session.
 */
export interface FunctionUrlIamIdentity {
  /** The ARN of the principal that signed the request. */
  readonly userArn?: string | undefined;
  /** The principal's unique id (`AIDA…` for a user, `AROA…:<session>` for a role session). */
  readonly callerId?: string | undefined;
  /** The principal's account. */
  readonly accountId?: string | undefined;
  /** The access key id the request was signed with. */
  readonly accessKey?: string | undefined;
  /** The principal's unique id, as `callerId`. */
  readonly userId?: string | undefined;
}
