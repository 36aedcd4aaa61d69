// The human view of a run: one live line per node (cached / running with a progress bar / done
// with its time) redrawn in place on a terminal, or one line per finished node in a log (CI).
import pc from 'picocolors';
import { nowMs } from '../runtime/clock.js';
import type { NodeRef, RunEvent, RunListener } from '../runtime/events.js';
import { bar, formatMs } from './format.js';

interface LineState {
  ref: NodeRef;
  status: 'waiting' | 'running' | 'cached' | 'ran' | 'failed' | 'skipped';
  started?: number;
  done?: number;
  total?: number;
  unit?: string;
  ms?: number;
  message?: string;
}

/** Redraws a block of lines in place (log-update's interface). */
export interface LiveBlock {
  (text: string): void;
  clear(): void;
  done(): void;
}

export interface TerminalReporterOptions {
  out: NodeJS.WriteStream;
  /** Redraws in place on a TTY (from log-update); absent: print a line per finished node. */
  live?: LiveBlock;
  verbose: boolean;
  pointCount: number;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class TerminalReporter implements RunListener {
  private readonly lines = new Map<string, LineState>();
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private readonly update: LiveBlock | undefined;

  constructor(private readonly opts: TerminalReporterOptions) {
    this.update = opts.live;
  }

  private label(ref: NodeRef): string {
    const scope = this.opts.pointCount > 1 && ref.points.length < this.opts.pointCount
      ? pc.dim(ref.points.length === 1 ? ` [${ref.points[0]}]` : ` [${ref.points.length} points]`)
      : '';
    return `${ref.nodeId} ${pc.dim(`(${ref.type})`)}${scope}`;
  }

  private render(s: LineState): string {
    const label = this.label(s.ref);
    switch (s.status) {
      case 'waiting':
        return `${pc.dim('·')} ${label} ${pc.dim('waiting')}`;
      case 'running': {
        const elapsed = formatMs(nowMs() - (s.started ?? nowMs()));
        const progress = s.total
          ? ` ${bar((s.done ?? 0) / s.total)} ${s.done}/${s.total}${s.unit ? ` ${s.unit}` : ''}`
          : s.done !== undefined ? ` ${s.done}${s.unit ? ` ${s.unit}` : ''}` : '';
        return `${pc.cyan(SPINNER[this.frame % SPINNER.length])} ${label}${progress} ${pc.dim(elapsed)}`;
      }
      case 'cached':
        return `${pc.green('✓')} ${label} ${pc.dim('cached')}`;
      case 'ran':
        return `${pc.green('✓')} ${label} ${pc.dim(`ran in ${formatMs(s.ms ?? 0)}`)}`;
      case 'failed':
        return `${pc.red('✗')} ${label} ${pc.red(`failed: ${s.message ?? ''}`)}`;
      case 'skipped':
        return `${pc.yellow('-')} ${label} ${pc.yellow(`skipped: ${s.message ?? ''}`)}`;
    }
  }

  private draw(): void {
    this.frame++;
    this.update?.([...this.lines.values()].map((s) => this.render(s)).join('\n'));
  }

  onEvent(e: RunEvent): void {
    switch (e.event) {
      case 'run-start':
        for (const ref of e.nodes) this.lines.set(ref.instanceId, { ref, status: 'waiting' });
        if (this.update) {
          this.timer = setInterval(() => this.draw(), 100);
          this.timer.unref();
        } else {
          this.opts.out.write(`${e.pipeline}: ${e.nodes.length} node(s), ${e.points.length} point(s), ${e.jobs} job(s)\n`);
        }
        return;
      case 'node-start': {
        const s = this.lines.get(e.node.instanceId);
        if (s) Object.assign(s, { status: 'running', started: nowMs() });
        if (!this.update && this.opts.verbose) this.opts.out.write(`  running ${this.label(e.node)}\n`);
        return;
      }
      case 'node-progress': {
        const s = this.lines.get(e.node.instanceId);
        if (s) Object.assign(s, { done: e.done, total: e.total, unit: e.unit });
        return;
      }
      case 'node-log':
        if (this.opts.verbose) this.print(`  ${pc.dim(`${e.node.nodeId}:`)} ${e.message}`);
        return;
      case 'node-warning':
        this.print(`${pc.yellow('!')} ${e.node.nodeId}: ${e.message}`);
        return;
      case 'node-end': {
        const s = this.lines.get(e.node.instanceId);
        if (s) Object.assign(s, { status: e.status, ms: e.ms, message: e.error ?? e.reason });
        if (!this.update && s) this.opts.out.write(`${this.render(s)}\n`);
        return;
      }
      case 'run-end': {
        if (this.timer) clearInterval(this.timer);
        if (this.update) {
          this.draw();
          this.update.done();
        }
        const c = e.summary.counts;
        const parts = [`${c.ran} ran`, `${c.cached} cached`];
        if (c.failed) parts.push(pc.red(`${c.failed} failed`));
        if (c.skipped) parts.push(pc.yellow(`${c.skipped} skipped`));
        this.opts.out.write(`${e.summary.ok ? pc.green('done') : pc.red('failed')}: ${parts.join(', ')} in ${formatMs(e.summary.ms)}\n`);
        for (const f of e.summary.failures) {
          this.opts.out.write(`${pc.red('✗')} ${f.nodeId}${f.points.length && f.points[0] !== 'default' ? ` [${f.points.join(' | ')}]` : ''}: ${f.error}\n`);
        }
      }
    }
  }

  /** Prints a line above the live block. */
  private print(line: string): void {
    if (this.update) {
      this.update.clear();
      this.opts.out.write(`${line}\n`);
      this.draw();
    } else {
      this.opts.out.write(`${line}\n`);
    }
  }
}
