import { renderPlan } from '../plan/render.js';
import { summarizeResult } from '../reconcile/outcome.js';
import type { RunOutcome } from '../reconcile/run.js';
import type { Flags } from './flags.js';
import { printable } from './printable.js';

export function printOutcome(o: RunOutcome, flags: Flags): void {
  if (flags.output === 'json') {
    const out = { runId: o.runId, mode: o.mode, exitCode: o.exitCode, plan: o.plan, result: o.result, readErrors: o.readErrors, partial: o.partial };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const lines = [renderPlan(o.plan, o.readErrors.length)];
  if (o.drift) {
    const d = o.drift;
    lines.push(
      `Refreshed from the backend: ${d.added} member(s) added by hand, ${d.left} left, ${d.renamed} renamed, ${d.deleted} conversation(s) gone${d.unreadable ? `, ${d.unreadable} unreadable` : ''}.`,
    );
  }
  if (o.partial) {
    const p = o.partial;
    lines.push(
      `Planned ${p.groups} of ${p.of} group(s): ${p.changed} changed since the last complete plan, ${p.groups - p.changed} share a conversation with one; the rest were read and are as that plan left them.`,
    );
  }
  if (o.recovered && o.recovered.resolved > 0) {
    lines.push(`Recovered ${o.recovered.resolved} op(s) left pending by an interrupted run (${o.recovered.adopted} conversation(s) adopted).`);
  }
  if (o.result && !o.result.dryRun) {
    const r = summarizeResult(o.result);
    lines.push(
      `Applied (run ${o.runId}): ${r.done} call(s) done, ${r.failed} failed, ${r.skipped} skipped${r.circuitOpen ? ' — circuit open, retry next run' : ''}`,
    );
    for (const f of o.result.failed.slice(0, 20)) lines.push(`  ✗ ${f.op.op} ${f.op.key}: ${f.error}`);
    if (o.result.failed.length > 20) lines.push(`  … ${o.result.failed.length - 20} more (convsync status)`);
  } else if (o.mode !== 'sync' && o.mode !== 'apply') {
    lines.push(`Nothing applied (${o.mode}).`);
  }
  process.stdout.write(printable(`${lines.join('\n')}\n`));
}
