import { describe, expect, it } from 'vitest';
import { closest, editDistance, suggest } from '../../src/runtime/planning/suggest.js';

describe('did you mean', () => {
  it('edit distance counts insertions, deletions, substitutions and transpositions', () => {
    expect(editDistance('relabel', 'relabel')).toBe(0);
    expect(editDistance('relabl', 'relabel')).toBe(1);
    expect(editDistance('relaebl', 'relabel')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('suggests a close name, and nothing for an unrelated one', () => {
    const types = ['command', 'embed', 'evaluate', 'load', 'noise-inject', 'relabel', 'select', 'train'];
    expect(suggest('relabl', types)).toBe(': did you mean `relabel`?');
    expect(closest('Select', types)).toBe('select');
    expect(closest('evaluat', types)).toBe('evaluate');
    expect(closest('noise', types)).toBeUndefined();
    expect(closest('ghost', ['ghostread', 'src'])).toBeUndefined();
    expect(suggest('bogus', ['n', 'value', 'step', 'jitter', 'delay_ms'])).toBe('');
    expect(closest('absorbb', ['absorb', 'relabel'])).toBe('absorb');
  });
});
