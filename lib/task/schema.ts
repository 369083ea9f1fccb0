/**
 * Argument validation through Standard Schema (zod, valibot, arktype, effect/schema, …).
 *
 * @module
 */

import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ValidationError, type ValidationIssue } from './errors.js';

/** Any Standard Schema. */
export type AnySchema = StandardSchemaV1;

/** Where validation happens, for the error message. */
export interface ValidationContext {
  readonly taskName: string;
  readonly taskId?: string;
  readonly when: 'enqueue' | 'run';
}

/** Validate `value`; resolves the schema's output or rejects with a {@link ValidationError}. */
export async function validateArgs<S extends AnySchema>(
  schema: S,
  value: unknown,
  context: ValidationContext,
): Promise<StandardSchemaV1.InferOutput<S>> {
  return outputOf<S>(await schema['~standard'].validate(value), context);
}

/**
 * {@link validateArgs} without a promise when it can (the worker's hot path): `{ value }` at once
 * when the schema validates synchronously (zod, valibot, … do) and the value is valid; otherwise
 * `{ pending }`, which resolves the output or rejects with the {@link ValidationError}.
 */
export function validateArgsNow<S extends AnySchema>(
  schema: S,
  value: unknown,
  context: ValidationContext,
):
  | { readonly value: StandardSchemaV1.InferOutput<S> }
  | { readonly pending: Promise<StandardSchemaV1.InferOutput<S>> } {
  const result = schema['~standard'].validate(value);
  if (result instanceof Promise) return { pending: result.then((r) => outputOf<S>(r, context)) };
  if (result.issues === undefined) return { value: result.value as StandardSchemaV1.InferOutput<S> };
  return { pending: Promise.reject(validationError(result.issues, context)) };
}

function outputOf<S extends AnySchema>(
  result: StandardSchemaV1.Result<unknown>,
  context: ValidationContext,
): StandardSchemaV1.InferOutput<S> {
  if (result.issues === undefined) return result.value as StandardSchemaV1.InferOutput<S>;
  throw validationError(result.issues, context);
}

function validationError(raw: readonly StandardSchemaV1.Issue[], context: ValidationContext): ValidationError {
  const issues = raw.map(toIssue);
  const listed = issues.map((i) => `${i.path === '' ? '(root)' : i.path}: ${i.message}`).join('; ');
  const fix =
    context.when === 'enqueue'
      ? 'Nothing was enqueued. Pass arguments that match the schema of the task (they travel as JSON, so Dates, Maps and class instances arrive as their JSON form).'
      : 'The run failed without retrying: fix the producer, then redrive or enqueue again.';
  return new ValidationError(`Invalid arguments for task '${context.taskName}' at ${context.when}: ${listed}. ${fix}`, {
    taskName: context.taskName,
    ...(context.taskId === undefined ? {} : { taskId: context.taskId }),
    issues,
  });
}

function toIssue(issue: StandardSchemaV1.Issue): ValidationIssue {
  const path = (issue.path ?? [])
    .map((segment) => (typeof segment === 'object' && segment !== null ? segment.key : segment))
    .map(String)
    .join('.');
  return { path, message: issue.message };
}
