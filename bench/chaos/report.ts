/**
 * The chaos suite's output: a table per backend and the one-line JSON.
 *
 * @module
 */

import { type Figures, MUST_BE_ZERO } from './analyse.js';
import type { BackendName } from './backends.js';

const ROWS: readonly (readonly [keyof Figures, string])[] = [
  ['runs', 'runs enqueued'],
  ['processes', 'worker processes'],
  ['kills', 'SIGKILLs'],
  ['attempts', 'attempts'],
  ['retriedRuns', 'runs with more than one attempt'],
  ['effects', 'effects'],
  ['explainedDoubleEffects', 'double effects after a kill (allowed)'],
  ['deadByKills', 'runs dead: every attempt killed or failed as planned'],
  ['seconds', 'seconds'],
  ['lost', 'lost runs'],
  ['overlappingAttempts', 'overlapping attempts'],
  ['attemptsAfterSuccess', 'attempts after success'],
  ['unexplainedDoubleEffects', 'double effects not explained by a kill'],
  ['crashes', 'worker crashes'],
  ['duplicateRuns', 'second enqueues that made another run'],
];

/** The figures as a Markdown table, one column per backend; figures that must be 0 and are not marked ✗. */
export function renderFigures(all: readonly Figures[]): string {
  const zero: readonly string[] = MUST_BE_ZERO;
  const header = ['figure', ...all.map((f) => `${f.backend} (blocking ${f.blocking ? 'on' : 'off'})`)];
  const body = ROWS.map(([key, label]) => [
    label,
    ...all.map((f) => {
      const value = String(f[key]);
      return zero.includes(key) && f[key] !== 0 ? `${value} ✗` : value;
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  const examples = all.flatMap((f) =>
    Object.entries(f.examples).map(([figure, ids]) => `${f.backend} ${figure}: ${ids.join(', ')}`),
  );
  return [line(header), rule, ...body.map(line), ...(examples.length > 0 ? ['', ...examples] : [])].join('\n');
}

/** The last line with `--json`: one object keyed by backend. */
export function chaosJson(all: readonly Figures[]): string {
  const out: Partial<Record<BackendName, unknown>> = {};
  for (const f of all) {
    const { examples: _examples, ...rest } = f;
    out[f.backend as BackendName] = rest;
  }
  return JSON.stringify(out);
}
