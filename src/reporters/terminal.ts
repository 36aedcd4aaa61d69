// The human view of a run. On a terminal: the header and every finished node scroll above a live
// block that always fits the window — the running nodes with bars and ETAs, then one line for the
// waiting ones ("27 waiting") — and no line is ever wider than the terminal, so redrawing in place
// never leaves stale lines behind. Elsewhere (CI, nohup, Slurm logs): a line per node start and end
// and, for long nodes, a heartbeat line with their progress at most every 10 s.
import picocolors from 'picocolors';
import { nowMs } from '../runtime/execution/clock.js';
import type { NodeRef, RunEvent, RunListener } from '../runtime/execution/events.js';
import { bar, formatMs } from './format.js';

interface LineState {
  ref: NodeRef;
  status: 'waiting' | 'queued' | 'running' | 'cached' | 'ran' | 'failed' | 'skipped';
  started?: number;
  done?: number;
  total?: number;
  unit?: string;
  /** When the first progress report with done > 0 arrived, and its value (the ETA's base). */
  firstAt?: number;
  firstDone?: number;
  ms?: number;
  message?: string;
  /** The queue worker that runs (ran) it. */
  where?: string;
  /** Non-TTY: when its last line (start or heartbeat) was printed. */
  lastLine?: number;
}

/** Redraws a block of lines in place (log-update's interface). */
export interface LiveBlock {
  (text: string): void;
  clear(): void;
  done(): void;
}

export interface TerminalSize {
  columns: number;
  rows: number;
}

export interface TerminalReporterOptions {
  out: { write(s: string): unknown };
  /** Redraws in place on a TTY (from log-update); absent: plain lines (start, end, heartbeats). */
  live?: LiveBlock;
  /** The terminal's size now (it may change during a run); default 80 × 24. */
  size?: () => TerminalSize;
  verbose: boolean;
  pointCount: number;
  /** Non-TTY heartbeat period for running nodes (default 10 s). */
  heartbeatMs?: number;
  /** Live redraw period (default 200 ms). */
  redrawMs?: number;
  /** ANSI colours (the CLI passes picocolors' detection: a TTY, FORCE_COLOR, CI…); default off, so the text never depends on the environment. */
  color?: boolean;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const ANSI = /\x1b\[[0-9;]*m/g;

/** Visible length of a line (every character we print is one column wide). */
export function visibleLength(s: string): number {
  return [...s.replace(ANSI, '')].length;
}

/** Cuts a line to at most `width` visible columns, ending with "…" when it was cut. */
export function fitLine(s: string, width: number): string {
  if (visibleLength(s) <= width) return s;
  let out = '';
  let n = 0;
  let hadAnsi = false;
  const re = /\x1b\[[0-9;]*m|[\s\S]/gu;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m[0].startsWith('\x1b[')) {
      out += m[0];
      hadAnsi = true;
      continue;
    }
    if (n >= width - 1) break;
    out += m[0];
    n++;
  }
  return `${out}…${hadAnsi ? '\x1b[0m' : ''}`;
}

/** Remaining time from progress since the first report, or undefined when it cannot be told yet. */
export function eta(s: Pick<LineState, 'done' | 'total' | 'firstAt' | 'firstDone'>, now: number): number | undefined {
  if (!s.total || s.done === undefined || s.firstAt === undefined || s.firstDone === undefined) return undefined;
  const advanced = s.done - s.firstDone;
  const elapsed = now - s.firstAt;
  if (advanced <= 0 || elapsed < 500) return undefined;
  return Math.max(0, ((s.total - s.done) * elapsed) / advanced);
}

export class TerminalReporter implements RunListener {
  private readonly lines = new Map<string, LineState>();
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private readonly update: LiveBlock | undefined;
  private header = '';
  /** Lines to print above the live block at its next redraw (a burst of cache hits is one write). */
  private pending: string[] = [];

  private readonly pc: ReturnType<typeof picocolors.createColors>;

  constructor(private readonly opts: TerminalReporterOptions) {
    this.pc = picocolors.createColors(Boolean(opts.color));
    this.update = opts.live;
  }

  private get width(): number {
    return Math.max(10, this.size.columns - 1);
  }

  private get size(): TerminalSize {
    const s = this.opts.size?.();
    return { columns: s?.columns || 80, rows: s?.rows || 24 };
  }

  private label(ref: NodeRef): string {
    const multi = this.opts.pointCount > 1 && ref.points.length < this.opts.pointCount;
    const scope = multi ? this.pc.dim(` [${ref.scope ?? (ref.points.length === 1 ? ref.points[0] : `${ref.points.length} points`)}]`) : '';
    return `${ref.nodeId} ${this.pc.dim(`(${ref.type})`)}${scope}`;
  }

  /** The label within `room` columns: the type goes first, then the scope loses its start, then the id its end. */
  private shortLabel(ref: NodeRef, room: number): string {
    const full = this.label(ref);
    if (visibleLength(full) <= room) return full;
    const multi = this.opts.pointCount > 1 && ref.points.length < this.opts.pointCount;
    const scope = multi ? ref.scope ?? (ref.points.length === 1 ? ref.points[0] : `${ref.points.length} points`) : '';
    if (!scope) return cutMiddle(ref.nodeId, room);
    const idRoom = Math.min([...ref.nodeId].length, Math.max(6, room - 9));
    const id = cutMiddle(ref.nodeId, idRoom);
    const scopeRoom = room - visibleLength(id) - 3;
    if (scopeRoom < 2) return id;
    const chars = [...scope];
    const cut = chars.length <= scopeRoom ? scope : `…${chars.slice(chars.length - scopeRoom + 1).join('')}`;
    return `${id} ${this.pc.dim(`[${cut}]`)}`;
  }

  /** Bar (of `width` cells), percentage and count; then the elapsed time and the ETA when known. */
  private progressText(s: LineState, now: number, width: number): string {
    const elapsed = this.pc.dim(formatMs(now - (s.started ?? now)));
    if (!s.total) return `${s.done !== undefined ? `${s.done}${s.unit ? ` ${s.unit}` : ''} ` : ''}${elapsed}`;
    const f = (s.done ?? 0) / s.total;
    const remaining = eta(s, now);
    return `${bar(f, width)} ${Math.floor(f * 100)}% ${s.done ?? 0}/${s.total}${s.unit ? ` ${s.unit}` : ''} ${elapsed}${remaining === undefined ? '' : `, ETA ${formatMs(remaining)}`}`;
  }

  /**
   * One node's line (running ones with their bar). Given a width, the label (node, type, grid
   * scope) is cut first, so the status and the progress stay in view and lines stay distinct.
   */
  render(s: LineState, now = nowMs(), width?: number): string {
    const [mark, rest] = this.parts(s, now);
    const label = this.label(s.ref);
    if (width === undefined) return `${mark} ${label}${rest}`;
    const room = width - 2 - visibleLength(rest);
    if (room >= 12) return `${mark} ${this.shortLabel(s.ref, room)}${rest}`;
    return fitLine(`${mark} ${this.shortLabel(s.ref, width - 2)}${rest}`, width);
  }

  private parts(s: LineState, now: number): [string, string] {
    switch (s.status) {
      case 'waiting':
        return [this.pc.dim('·'), ` ${this.pc.dim('waiting')}`];
      case 'queued':
        return [this.pc.dim('…'), ` ${this.pc.dim('queued')}`];
      case 'running':
        return [this.pc.cyan(SPINNER[this.frame % SPINNER.length]), ` ${this.progressText(s, now, 20)}${s.where ? this.pc.dim(` on ${s.where}`) : ''}`];
      case 'cached':
        return [this.pc.green('✓'), ` ${this.pc.dim('cached')}`];
      case 'ran':
        return [this.pc.green('✓'), ` ${this.pc.dim(`ran in ${formatMs(s.ms ?? 0)}${s.where ? ` on ${s.where}` : ''}`)}`];
      case 'failed':
        return [this.pc.red('✗'), ` ${this.pc.red(`failed: ${firstLine(s.message)}`)}`];
      case 'skipped':
        return [this.pc.yellow('-'), ` ${this.pc.yellow(`skipped: ${firstLine(s.message)}`)}`];
    }
  }

  /**
   * The live block for a terminal of `size`: running nodes (as many as fit), then one line for the
   * rest and the waiting ones. At most rows − 2 lines (the cursor rests on the line below it, and
   * the header stays in view on an otherwise empty screen), each at most columns − 1 wide.
   */
  liveBlock(size: TerminalSize, now = nowMs()): string[] {
    const width = Math.max(10, size.columns - 1);
    const maxLines = Math.max(1, size.rows - 2);
    const all = [...this.lines.values()];
    const running = all.filter((s) => s.status === 'running').sort((a, b) => (a.started ?? 0) - (b.started ?? 0));
    const waiting = all.filter((s) => s.status === 'waiting').length;
    const queued = all.filter((s) => s.status === 'queued').length;
    const finished = all.length - running.length - waiting - queued;
    const shown = running.length + 1 <= maxLines ? running : running.slice(0, Math.max(0, maxLines - 1));
    const footerParts = [
      `${waiting} waiting`,
      ...(queued > 0 ? [`${queued} queued`] : []),
      shown.length < running.length ? `${running.length - shown.length} more running` : `${running.length} running`,
      `${finished}/${all.length} done`,
    ];
    const out = shown.map((s) => this.render(s, now, width));
    out.push(fitLine(this.pc.dim(`  ${footerParts.join(' · ')}`), width));
    return out.slice(-maxLines);
  }

  private draw(): void {
    if (!this.update) return;
    this.frame++;
    this.flush();
    this.update(this.liveBlock(this.size).join('\n'));
  }

  /** Writes the pending lines above the block (erased first; the next `update` draws it again below them). */
  private flush(): void {
    if (!this.update || this.pending.length === 0) return;
    this.update.clear();
    this.opts.out.write(`${this.pending.join('\n')}\n`);
    this.pending = [];
  }

  /** Non-TTY: a line for each node that has run for a heartbeat period since its last line. */
  heartbeat(now = nowMs()): void {
    const period = this.opts.heartbeatMs ?? 10_000;
    for (const s of this.lines.values()) {
      if (s.status !== 'running' || now - (s.lastLine ?? s.started ?? now) < period) continue;
      s.lastLine = now;
      this.opts.out.write(`  … ${this.label(s.ref)} ${this.progressText(s, now, 10)}\n`);
    }
  }

  onEvent(e: RunEvent): void {
    switch (e.event) {
      case 'run-start':
        for (const ref of e.nodes) this.lines.set(ref.instanceId, { ref, status: 'waiting' });
        this.header = `${e.pipeline}: ${e.nodes.length} node(s), ${e.points.length} point(s), ${e.jobs} job(s)`;
        this.print(this.header);
        if (this.update) {
          this.timer = setInterval(() => this.draw(), this.opts.redrawMs ?? 200);
          this.draw();
        } else {
          const period = this.opts.heartbeatMs ?? 10_000;
          this.timer = setInterval(() => this.heartbeat(), Math.min(period, 1000));
        }
        this.timer.unref();
        return;
      case 'node-start': {
        const s = this.lines.get(e.node.instanceId);
        const now = nowMs();
        if (s) Object.assign(s, { status: 'running', started: now, lastLine: now });
        if (!this.update) this.opts.out.write(`${this.pc.cyan('▶')} ${this.label(e.node)} ${this.pc.dim('started')}\n`);
        return;
      }
      case 'node-progress': {
        const s = this.lines.get(e.node.instanceId);
        if (!s) return;
        Object.assign(s, { done: e.done, total: e.total, unit: e.unit });
        if (s.firstAt === undefined || (s.firstDone !== undefined && e.done < s.firstDone)) {
          // The ETA counts from the first report (start-up, model loading and downloads excluded).
          s.firstAt = nowMs();
          s.firstDone = e.done;
        }
        return;
      }
      case 'node-queued': {
        const s = this.lines.get(e.node.instanceId);
        if (s?.status !== 'running') return;
        s.status = 'queued';
        if (!this.update) this.opts.out.write(`  ${this.label(e.node)} ${this.pc.dim('queued')}\n`);
        return;
      }
      case 'node-where': {
        const s = this.lines.get(e.node.instanceId);
        if (!s) return;
        // Taken off the queue: its time runs from here.
        if (s.status === 'queued') Object.assign(s, { status: 'running', started: nowMs(), lastLine: nowMs() });
        if (s.where === e.where) return;
        s.where = e.where;
        if (!this.update && s.status === 'running') this.opts.out.write(`  ${this.label(e.node)} ${this.pc.dim(`on ${e.where}`)}\n`);
        return;
      }
      case 'node-log':
        if (this.opts.verbose) this.print(`  ${this.pc.dim(`${e.node.nodeId}:`)} ${e.message}`);
        return;
      case 'node-warning':
        this.print(`${this.pc.yellow('!')} ${e.node.nodeId}: ${e.message}`);
        return;
      case 'node-end': {
        const s = this.lines.get(e.node.instanceId);
        if (!s) return;
        Object.assign(s, { status: e.status, ms: e.ms, message: e.error ?? e.reason });
        if (this.update) this.print(this.render(s, nowMs(), this.width));
        else this.print(this.render(s));
        return;
      }
      case 'run-end': {
        if (this.timer) clearInterval(this.timer);
        if (this.update) {
          this.update.clear();
          this.flush();
          this.update.done();
        }
        const c = e.summary.counts;
        const parts = [`${c.ran} ran`, `${c.cached} cached`];
        if (c.failed) parts.push(this.pc.red(`${c.failed} failed`));
        if (c.skipped) parts.push(this.pc.yellow(`${c.skipped} skipped`));
        this.opts.out.write(`${e.summary.ok ? this.pc.green('done') : this.pc.red('failed')}: ${parts.join(', ')} in ${formatMs(e.summary.ms)}\n`);
        for (const f of e.summary.failures) {
          this.opts.out.write(`${this.pc.red('✗')} ${f.nodeId}${f.points.length && f.points[0] !== 'default' ? ` [${f.points.join(' | ')}]` : ''}: ${f.error}\n`);
        }
      }
    }
  }

  /**
   * Prints a line above the live block (cut to the terminal's width there, so it never wraps); on a
   * terminal it is written with the next redraw.
   */
  private print(line: string): void {
    if (this.update) {
      this.pending.push(fitLine(line, this.width));
    } else {
      this.opts.out.write(`${line}\n`);
    }
  }
}

/** Plain text cut to `width` characters by dropping its middle ("node_wi…name_0"). */
function cutMiddle(s: string, width: number): string {
  const chars = [...s];
  if (chars.length <= width) return s;
  const head = Math.ceil((width - 1) / 2);
  return `${chars.slice(0, head).join('')}…${chars.slice(chars.length - (width - 1 - head)).join('')}`;
}

function firstLine(s: string | undefined): string {
  return (s ?? '').split('\n')[0];
}
