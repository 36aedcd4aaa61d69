import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv, parseManifest, readManifest, resolveManifest } from '../../src/data/manifest.js';
import { removeTemp, tempDir } from '../helpers/temp.js';

afterAll(removeTemp);

describe('parseCsv', () => {
  it('handles quotes, embedded commas, newlines, doubled quotes, CRLF and a BOM', () => {
    const text = '\ufeffpath,label\r\n"a,b.png","say ""hi"""\r\n\r\n"multi\nline.png",cat\nplain.png,dog';
    const { rows, lines } = parseCsv(text);
    expect(rows).toEqual([
      ['path', 'label'],
      ['a,b.png', 'say "hi"'],
      ['multi\nline.png', 'cat'],
      ['plain.png', 'dog'],
    ]);
    expect(lines).toEqual([1, 2, 4, 6]);
  });

  it('refuses an unterminated quote', () => {
    expect(() => parseCsv('path,label\n"oops,cat\n')).toThrow(/quoted field opened on line 2/);
  });
});

describe('manifest entries', () => {
  it('reads CSV columns by header name, in any order', () => {
    const entries = parseManifest('split,label,path\ntest,cat,img/1.png\n,dog,img/2.png\n', 'm.csv');
    expect(entries).toEqual([
      { path: 'img/1.png', label: 'cat', split: 'test', line: 2 },
      { path: 'img/2.png', label: 'dog', split: '', line: 3 },
    ]);
  });

  it('reads JSONL and guesses the format', () => {
    const entries = parseManifest('{"path":"a.png","label":3}\n\n{"path":"b.png","label":"1","split":"val"}\n', 'm');
    expect(entries).toEqual([
      { path: 'a.png', label: 3, split: undefined, line: 1 },
      { path: 'b.png', label: '1', split: 'val', line: 3 },
    ]);
  });

  it('names the line of a bad record', () => {
    expect(() => parseManifest('path,label\na.png\n', 'm.csv')).toThrow(/m\.csv:2: 1 fields but the header has 2/);
    expect(() => parseManifest('{"path":"a.png","label":1}\n{"path":"b.png"}\n', 'm.jsonl')).toThrow(/m\.jsonl:2: "label"/);
    expect(() => parseManifest('file,class\n', 'm.csv')).toThrow(/"path" and "label"/);
  });
});

describe('resolveManifest', () => {
  const at = (path: string, label: string | number, split?: string, line = 1) => ({ path, label, split, line });

  it('sorts class names, splits train/test and resolves paths against the manifest folder', () => {
    const layout = resolveManifest(
      [at('x/1.png', 'zebra'), at('/abs/2.png', 'ant', 'test'), at('3.png', 'zebra', 'validation'), at('4.png', 'mole', 'TRAIN')],
      '/data/set/manifest.csv',
    );
    expect(layout.classes).toEqual(['ant', 'mole', 'zebra']);
    expect(layout.train.files).toEqual(['/data/set/x/1.png', '/data/set/4.png']);
    expect(Array.from(layout.train.labels)).toEqual([2, 1]);
    expect(layout.test!.files).toEqual(['/abs/2.png', '/data/set/3.png']);
    expect(Array.from(layout.test!.labels)).toEqual([0, 2]);
  });

  it('takes all-integer labels as indices', () => {
    const layout = resolveManifest([at('a', '2'), at('b', 0), at('c', '2')], '/m.csv');
    expect(layout.classes).toEqual(['0', '1', '2']);
    expect(Array.from(layout.train.labels)).toEqual([2, 0, 2]);
    expect(layout.test).toBeUndefined();
  });

  it('maps names and indices through a given class list', () => {
    const layout = resolveManifest([at('a', 'dog'), at('b', 0), at('c', '1')], '/m.csv', ['cat', 'dog']);
    expect(layout.classes).toEqual(['cat', 'dog']);
    expect(Array.from(layout.train.labels)).toEqual([1, 0, 1]);
    expect(() => resolveManifest([at('a', 'cow', undefined, 7)], '/m.csv', ['cat', 'dog'])).toThrow(/m\.csv:7: label "cow"/);
    expect(() => resolveManifest([at('a', 5)], '/m.csv', ['cat', 'dog'])).toThrow(/label "5"/);
  });

  it('refuses unknown splits and manifests without train entries', () => {
    expect(() => resolveManifest([at('a', 'x', 'holdout', 4)], '/m.csv')).toThrow(/m\.csv:4: split "holdout"/);
    expect(() => resolveManifest([at('a', 'x', 'test')], '/m.csv')).toThrow(/no train entries/);
  });

  it('reads a manifest file from disk', async () => {
    const dir = tempDir('sieve-manifest-');
    writeFileSync(join(dir, 'list.jsonl'), '{"path":"imgs/a.png","label":"cat"}\n{"path":"imgs/b.png","label":"dog","split":"test"}\n');
    const layout = await readManifest(join(dir, 'list.jsonl'));
    expect(layout.train.files).toEqual([join(dir, 'imgs/a.png')]);
    expect(layout.test!.files).toEqual([join(dir, 'imgs/b.png')]);
    await expect(readManifest(join(dir, 'missing.csv'))).rejects.toThrow(/cannot read manifest .*missing\.csv/);
  });
});
