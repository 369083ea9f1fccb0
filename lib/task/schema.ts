/**
 * Argument validation through Standard Schema (zod, valibot, arktype, effect/schema, …).
 *
 * @module
 */

import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ValidationError, type ValidationIssue } from './errors.js';

/** Any Standard Schema. */
export type AnySchema = StandardSchemaV1;

/** Validate `value`; resolves the schema's output or rejects with a {@link ValidationError}. */
export async function validateArgs<S extends AnySchema>(
  schema: S,
  value: unknown,
  context: { readonly taskName: string; readonly taskId?: string; readonly when: 'enqueue' | 'run' },
): Promise<StandardSchemaV1.InferOutput<S>> {
  const result = await schema['~standard'].validate(value);
  if (result.issues === undefined) {
    return result.value as StandardSchemaV1.InferOutput<S>;
  }
  const issues = result.issues.map(toIssue);
  const listed = issues.map((i) => `${i.path === '' ? '(root)' : i.path}: ${i.message}`).join('; ');
  const fix =
    context.when === 'enqueue'
      ? 'Nothing was enqueued. Pass arguments that match the schema of the task (they travel as JSON, so Dates, Maps and class instances arrive as their JSON form).'
      : 'The run failed without retrying: fix the producer, then redrive or enqueue again.';
  return Promise.reject(
    new ValidationError(`Invalid arguments for task '${context.taskName}' at ${context.when}: ${listed}. ${fix}`, {
      taskName: context.taskName,
      ...(context.taskId === undefined ? {} : { taskId: context.taskId }),
      issues,
    }),
  );
}

function toIssue(issue: StandardSchemaV1.Issue): ValidationIssue {
  const path = (issue.path ?? [])
    .map((segment) => (typeof segment === 'object' && segment !== null ? segment.key : segment))
    .map(String)
    .join('.');
  return { path, message: issue.message };
}
