// A parsed YAML document that can say where any field is: the `yaml` library keeps source ranges on
// every node, and a LineCounter turns offsets into line and column.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { Diagnostic } from './errors.js';

export type FieldPath = readonly (string | number)[];

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
    return this.doc.toJS({ maxAliasCount: 10_000 });
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
