// The terminal view without a terminal: the live block for a fake window size, the plain-line mode
// (start/end lines and heartbeats), line fitting and the ETA.
import { stripVTControlCharacters as plain } from 'node:util';
import { describe, expect, it } from 'vitest';
import { TerminalReporter, eta, fitLine, visibleLength, type LiveBlock } from '../../src/reporters/terminal.js';
import { nowMs } from '../../src/runtime/execution/clock.js';
import type { NodeRef, RunEvent } from '../../src/runtime/execution/events.js';

function refs(n: number, points = 3): NodeRef[] {
  return Array.from({ length: n }, (_, i) => ({
    instanceId: `i${i}`, nodeId: `node_with_a_rather_long_name_${i}`, type: 'select',
    points: [`relabel.absorb=0.${i % points},relabel.relabel=0.8`], scope: `relabel.absorb=0.${i % points},relabel.relabel=0.8`,
  }));
}

function fakeLive(): LiveBlock & { frames: string[] } {
  const frames: string[] = [];
  const draw = (text: string): void => {
    frames.push(text);
  };
  return Object.assign(draw, { frames, clear: () => undefined, done: () => undefined });
}

function start(r: TerminalReporter, nodes: NodeRef[]): void {
  r.onEvent({ event: 'run-start', runId: 'r', pipeline: 'grid', file: 'grid.yaml', points: ['a', 'b', 'c'], nodes, jobs: 8, time: '' });
}

describe('fitLine', () => {
  it('cuts to the visible width, ignoring colour codes, and marks the cut', () => {
    expect(fitLine('abcdef', 10)).toBe('abcdef');
    expect(fitLine('abcdefghijkl', 6)).toBe('abcde…');
    const coloured = `\x1b[32m${'x'.repeat(100)}\x1b[39m`;
    const cut = fitLine(coloured, 79);
    expect(visibleLength(cut)).toBe(79);
    expect(cut.endsWith('\x1b[0m')).toBe(true);
  });
});

describe('eta', () => {
  it('extrapolates from the progress since the first report', () => {
    expect(eta({ done: 50, total: 100, firstAt: 0, firstDone: 0 }, 10_000)).toBe(10_000);
    expect(eta({ done: 60, total: 100, firstAt: 0, firstDone: 20 }, 4_000)).toBe(4_000);
    expect(eta({ done: 0, total: 100, firstAt: 0, firstDone: 0 }, 4_000)).toBeUndefined();
    expect(eta({ done: 5, total: undefined, firstAt: 0, firstDone: 0 }, 4_000)).toBeUndefined();
  });
});

describe('live block', () => {
  for (const size of [{ columns: 80, rows: 40 }, { columns: 40, rows: 10 }, { columns: 120, rows: 5 }]) {
    it(`fits a ${size.columns}×${size.rows} terminal: at most rows − 2 lines, none wider than columns − 1`, () => {
      const r = new TerminalReporter({ out: { write: () => true }, live: fakeLive(), size: () => size, verbose: false, pointCount: 3 });
      const nodes = refs(60);
      start(r, nodes);
      for (const n of nodes.slice(0, 50)) r.onEvent({ event: 'node-start', node: n, key: 'k' });
      for (const n of nodes.slice(0, 50)) r.onEvent({ event: 'node-progress', node: n, done: 3, total: 10, unit: 'epoch' });
      const block = r.liveBlock(size);
      expect(block.length).toBeLessThanOrEqual(size.rows - 2);
      for (const l of block) expect(visibleLength(l)).toBeLessThanOrEqual(size.columns - 1);
      const footer = block[block.length - 1];
      expect(footer).toContain('10 waiting');
      expect(footer).toMatch(/\d+ more running/);
    });
  }

  it('shows every running node with its bar and collapses the waiting ones into one line', () => {
    const r = new TerminalReporter({ out: { write: () => true }, live: fakeLive(), size: () => ({ columns: 200, rows: 40 }), verbose: false, pointCount: 3 });
    const nodes = refs(30);
    start(r, nodes);
    r.onEvent({ event: 'node-start', node: nodes[0], key: 'k' });
    r.onEvent({ event: 'node-progress', node: nodes[0], done: 5, total: 10, unit: 'epoch' });
    r.onEvent({ event: 'node-end', node: nodes[1], status: 'cached', ms: 1 });
    const block = r.liveBlock({ columns: 200, rows: 40 });
    expect(block).toHaveLength(2);
    expect(block[0]).toContain('node_with_a_rather_long_name_0');
    expect(block[0]).toContain('[relabel.absorb=0.0,relabel.relabel=0.8]');
    expect(block[0]).toContain('5/10 epoch');
    expect(block[0]).toContain('50%');
    expect(block[1]).toContain('28 waiting');
    expect(block[1]).toContain('1/30 done');
  });

  it('prints the header and each finished node once above the block, each cut to the width', () => {
    let text = '';
    const r = new TerminalReporter({ out: { write: (s: string) => (text += s) }, live: fakeLive(), size: () => ({ columns: 30, rows: 10 }), verbose: false, pointCount: 3 });
    const nodes = refs(3);
    start(r, nodes);
    for (const n of nodes) r.onEvent({ event: 'node-end', node: n, status: 'ran', ms: 12 });
    r.onEvent({ event: 'node-end', node: nodes[0], status: 'failed', ms: 12, error: 'x'.repeat(100) });
    r.onEvent({ event: 'run-end', summary: { runId: 'r', pipeline: 'grid', ok: false, counts: { ran: 3, cached: 0, failed: 1, skipped: 0 }, ms: 9, failures: [] } });
    // Colours are on where the environment asks for them (CI=true does): compare the plain text.
    const lines = plain(text).trimEnd().split('\n').slice(0, -1); // the last: the summary
    expect(lines[0]).toMatch(/^grid: 3 node\(s\), 3 point/);
    expect(lines).toHaveLength(5);
    expect(lines[1]).toMatch(/ran in 12 ms$/);
    expect(new Set(lines).size).toBe(lines.length);
    for (const l of lines) expect(visibleLength(l)).toBeLessThanOrEqual(29);
  });
});

describe('without a terminal', () => {
  it('prints a line per start and end and a heartbeat with progress only once per period', () => {
    let text = '';
    const r = new TerminalReporter({ out: { write: (s: string) => (text += s) }, verbose: false, pointCount: 1, heartbeatMs: 10_000 });
    const nodes: NodeRef[] = [{ instanceId: 'e', nodeId: 'embed', type: 'embed', points: ['default'] }];
    const events: RunEvent[] = [
      { event: 'run-start', runId: 'r', pipeline: 'p', file: 'p.yaml', points: ['default'], nodes, jobs: 1, time: '' },
      { event: 'node-start', node: nodes[0], key: 'k' },
      { event: 'node-progress', node: nodes[0], done: 10, total: 100, unit: 'images' },
    ];
    for (const e of events) r.onEvent(e);
    const startedAt = nowMs();
    r.heartbeat(startedAt + 1_000); // too early: nothing
    r.heartbeat(startedAt + 20_000);
    r.heartbeat(startedAt + 25_000); // within 10 s of the last heartbeat: nothing
    r.onEvent({ event: 'node-end', node: nodes[0], status: 'ran', ms: 30_000 });
    r.onEvent({ event: 'run-end', summary: { runId: 'r', pipeline: 'p', ok: true, counts: { ran: 1, cached: 0, failed: 0, skipped: 0 }, ms: 30_000, failures: [] } });
    const lines = plain(text).trimEnd().split('\n');
    expect(lines[0]).toBe('p: 1 node(s), 1 point(s), 1 job(s)');
    expect(lines[1]).toMatch(/embed \(embed\) started/);
    expect(lines.filter((l) => l.includes('…'))).toHaveLength(1);
    expect(lines[2]).toMatch(/embed \(embed\) .*10% 10\/100 images/);
    expect(lines[3]).toMatch(/embed \(embed\) ran in 30\.0 s/);
    expect(lines[4]).toMatch(/^done: 1 ran/);
  });
});

describe('labels cut to the width', () => {
  it('keep the node id and the end of the grid scope, so cut lines stay distinct', () => {
    const r = new TerminalReporter({ out: { write: () => true }, live: fakeLive(), verbose: false, pointCount: 9 });
    const lines = ['0.7', '0.8', '0.9'].map((v, i) =>
      r.render({ ref: { instanceId: `x${i}`, nodeId: 'relabel2', type: 'relabel', points: ['p'], scope: `relabel.absorb=0.8,relabel.relabel=${v}` }, status: 'ran', ms: 1200 }, 0, 40));
    for (const l of lines) {
      expect(visibleLength(l)).toBeLessThanOrEqual(40);
      expect(plain(l)).toMatch(/^✓ relabel2 \[….*relabel=0\.\d\] ran in 1\.2 s$/);
    }
    expect(new Set(lines).size).toBe(3);
  });
});

describe('colour', () => {
  // The text is the same in every environment (CI sets $CI, which turns picocolors' detection on).
  it('is off unless asked for, whatever the environment says', () => {
    const texts = [false, true].map((color) => {
      let text = '';
      const r = new TerminalReporter({ out: { write: (s: string) => (text += s) }, verbose: false, pointCount: 1, color });
      const node: NodeRef = { instanceId: 'a', nodeId: 'a', type: 't', points: ['default'] };
      r.onEvent({ event: 'run-start', runId: 'r', pipeline: 'p', file: 'p.yaml', points: ['default'], nodes: [node], jobs: 1, time: '' });
      r.onEvent({ event: 'node-start', node, key: 'k' });
      r.onEvent({ event: 'node-end', node, status: 'ran', ms: 5 });
      return text;
    });
    expect(texts[0]).not.toMatch(/\x1b\[/);
    expect(texts[1]).toMatch(/\x1b\[/);
    expect(plain(texts[1])).toBe(texts[0]);
  });
});
