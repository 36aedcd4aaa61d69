// A parsed YAML document that can say where any field is: the `yaml` library keeps source ranges on
// every node, and a LineCounter turns offsets into line and column.
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { Diagnostic } from '../errors.js';

export type FieldPath = readonly (string | number)[];

/** Aliases a document may expand (yaml's own measure of the nodes they copy). */
const MAX_ALIAS_COUNT = 10_000;

export class SourceDocument {
  private constructor(
    readonly file: string,
    readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  static parse(file: string, text: string): { source: SourceDocument; diagnostics: Diagnostic[] } {
    const lines = new LineCounter();
    // merge: YAML merge keys (`<<: *round`) let a pipeline repeat a node with small changes.
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, merge: true });
    const source = new SourceDocument(file, doc, lines);
    const diagnostics = doc.errors.map((e) => {
      const pos = lines.linePos(e.pos[0]);
      const duplicate = /Map keys must be unique/.test(e.message);
      const key = duplicate ? /^\s*([^:\s]+)\s*:/.exec(text.split('\n')[pos.line - 1] ?? '')?.[1] : undefined;
      return {
        file,
        line: pos.line,
        column: pos.col,
        field: key ?? '',
        message: duplicate ? `duplicate key "${key ?? '?'}" (a node id or field appears twice)` : e.message.split('\n')[0],
      };
    });
    return { source, diagnostics };
  }

  toJS(): unknown {
    return this.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  }

  /**
   * The document as plain data, or why it cannot be built, located: an alias of an anchor that is
   * not defined before it, a merge (`<<:`) of something that is not a mapping, or aliases that
   * expand past a limit (a "billion laughs" document).
   */
  toData(): { value: unknown } | { diagnostic: Diagnostic } {
    let bad: Diagnostic | undefined;
    visit(this.doc, {
      Alias: (_key, node) => {
        if (!bad && node.resolve(this.doc) === undefined) bad = this.at(node.range, '', `unknown anchor *${node.source} (no &${node.source} before it)`);
        return bad ? visit.BREAK : undefined;
      },
      Pair: (_key, pair) => {
        if (bad || !isScalar(pair.key) || pair.key.value !== '<<') return undefined;
        const target = isAlias(pair.value) ? pair.value.resolve(this.doc) : pair.value;
        const ok = isMap(target) || (isSeq(pair.value) && pair.value.items.every((i) => isAlias(i) && isMap(i.resolve(this.doc))));
        if (!ok) bad = this.at((pair.key as Node).range, '<<', 'a merge key (<<) takes a mapping or an alias of one');
        return bad ? visit.BREAK : undefined;
      },
    });
    if (bad) return { diagnostic: bad };
    try {
      return { value: this.toJS() };
    } catch (e) {
      const message = (e as Error).message;
      let first: Node | undefined;
      visit(this.doc, {
        Alias: (_key, node) => {
          first = node;
          return visit.BREAK;
        },
      });
      if (/alias count/i.test(message)) {
        return { diagnostic: this.at(first?.range, '', `aliases expand to more than ${MAX_ALIAS_COUNT} nodes (a "billion laughs" document?): refused`) };
      }
      return { diagnostic: this.at(first?.range, '', message.split('\n')[0]) };
    }
  }

  private at(range: readonly [number, number, number] | null | undefined, field: string, message: string): Diagnostic {
    const pos = range ? this.lines.linePos(range[0]) : { line: 1, col: 1 };
    return { file: this.file, line: pos.line, column: pos.col, field, message };
  }

  /**
   * Position of the field at `path` (the key when `at` is 'key'), or of its deepest existing
   * ancestor when the field is absent.
   */
  locate(path: FieldPath, at: 'key' | 'value' = 'value'): { line: number; column: number } {
    let node: Node | null | undefined = this.doc.contents as Node | null;
    let best: [number, number, number] | undefined = node?.range ?? undefined;
    for (let i = 0; i < path.length && node; i++) {
      const seg = path[i];
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        const last = i === path.length - 1;
        const keyNode = pair.key as Node;
        const valueNode = pair.value as Node | null;
        best = (last && at === 'key') || !valueNode?.range ? keyNode.range ?? best : valueNode.range;
        node = valueNode;
        if (last && at === 'key') break;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (!item) break;
        best = item.range ?? best;
        node = item;
      } else {
        break;
      }
    }
    if (!best) return { line: 1, column: 1 };
    const pos = this.lines.linePos(best[0]);
    return { line: pos.line, column: pos.col };
  }

  diagnostic(path: FieldPath, message: string, at: 'key' | 'value' = 'value'): Diagnostic {
    const { line, column } = this.locate(path, at);
    return { file: this.file, line, column, field: path.join('.'), message };
  }
}
