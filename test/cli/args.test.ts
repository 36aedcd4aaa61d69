// The command-line layer over util.parseArgs: flags by camel-cased name, repeatable and negated
// options, defaults, required options and arguments, help and version, and usage errors (exit 2).
import { describe, expect, it } from 'vitest';
import { parseCommand, programHelp, commandHelp, runProgram, type CommandSpec, type Flags, type ProgramSpec } from '../../src/cli/args.js';
import { programSpec } from '../../src/cli/main.js';
import { UsageError } from '../../src/runtime/errors.js';

function program(calls: { args: unknown[]; flags: Flags }[] = []): { spec: ProgramSpec; cmd: CommandSpec } {
  const cmd: CommandSpec = {
    name: 'copy', args: ['<from>', '[to]', '[rest...]'], description: 'copy things',
    options: [
      { name: 'param', short: 'p', value: '<k=v>', repeatable: true, description: 'a param' },
      { name: 'no-sweep', description: 'skip the sweep' },
      { name: 'dry-run', description: 'only say' },
      { name: 'out', short: 'o', value: '<dir>', default: 'results', description: 'where' },
      { name: 'must', value: '<x>', required: false, description: 'optional here' },
      { name: 'debug', description: 'hidden', hidden: true },
    ],
    action: async (args, flags) => void calls.push({ args, flags }),
  };
  return { spec: { name: 'tool', version: '1.2.3', description: 'a tool', commands: [cmd] }, cmd };
}

describe('parseCommand', () => {
  it('gives positionals in order and flags by camel-cased name; repeatable options are lists; no-x sets x false', () => {
    const { spec, cmd } = program();
    const r = parseCommand(spec, cmd, ['a', '-p', 'x=1', '--param=y=2', '--no-sweep', '--dry-run', 'b', 'c', 'd']);
    expect(r.args).toEqual(['a', 'b', ['c', 'd']]);
    expect(r.flags).toEqual({ param: ['x=1', 'y=2'], sweep: false, dryRun: true, out: 'results', must: undefined, debug: undefined });
    expect(parseCommand(spec, cmd, ['a', '-o', 'elsewhere']).flags.out).toBe('elsewhere');
    expect(parseCommand(spec, cmd, ['a']).flags.sweep).toBeUndefined();
  });

  it('reports usage errors as UsageError (exit 2) naming what is wrong', () => {
    const { spec, cmd } = program();
    const error = (argv: string[]): UsageError => {
      try {
        parseCommand(spec, cmd, argv);
      } catch (e) {
        return e as UsageError;
      }
      throw new Error(`no error for ${argv.join(' ')}`);
    };
    expect(error([]).message).toMatch(/missing required argument <from>/);
    expect(error(['a', '--bogus']).message).toBe("unknown option '--bogus' (see `tool copy --help`)");
    expect(error(['a', '-p']).message).toMatch(/argument missing/);
    expect(error(['a', '--dry-run=yes']).exitCode).toBe(2);
    const required = { ...cmd, args: [], options: [{ name: 'output', short: 'o', value: '<file>', required: true, description: 'file' }] };
    expect(() => parseCommand(spec, required, [])).toThrow("required option '-o, --output <file>' not specified");
    const single = { ...cmd, args: ['[pipeline]'] };
    expect(() => parseCommand(spec, single, ['a', 'b'])).toThrow(/too many arguments for 'copy': b/);
  });
});

describe('runProgram', () => {
  it('runs the command named, prints help and version, and refuses an unknown command', async () => {
    const calls: { args: unknown[]; flags: Flags }[] = [];
    const { spec, cmd } = program(calls);
    let out = '';
    const sink = { write: (s: string) => (out += s) };
    await runProgram(spec, ['node', 'tool', 'copy', 'a', '-p', 'k=v'], sink);
    expect(calls).toEqual([{ args: ['a', undefined, []], flags: expect.objectContaining({ param: ['k=v'] }) }]);
    await runProgram(spec, ['node', 'tool', '--version'], sink);
    expect(out).toBe('1.2.3\n');
    out = '';
    await runProgram(spec, ['node', 'tool', 'copy', '--help'], sink);
    expect(out).toBe(commandHelp(spec, cmd));
    expect(out).toContain('Usage: tool copy [options] <from> [to] [rest...]');
    expect(out).toContain('-o, --out <dir>');
    expect(out).toContain('(default: "results")');
    expect(out).not.toContain('--debug');
    out = '';
    await runProgram(spec, ['node', 'tool', 'help'], sink);
    expect(out).toBe(programHelp(spec));
    await expect(runProgram(spec, ['node', 'tool', 'frob'], sink)).rejects.toThrow(/unknown command 'frob' \(commands: copy/);
    await expect(runProgram(spec, ['node', 'tool'], sink)).rejects.toBeInstanceOf(UsageError);
    expect(calls).toHaveLength(1);
  });

  it("sieve's own commands all have distinct option names and a description", () => {
    const spec = programSpec();
    expect(spec.commands.map((c) => c.name)).toEqual(['run', 'sweep', 'status', 'dag', 'show', 'results', 'runs', 'report', 'logs', 'types', 'verify', 'push', 'pull', 'export', 'import', 'audit', 'gc', 'worker', 'exec-task']);
    for (const c of spec.commands) {
      const names = c.options.map((o) => o.name);
      expect(new Set(names).size, `${c.name}: ${names.join(', ')}`).toBe(names.length);
      const shorts = c.options.flatMap((o) => (o.short ? [o.short] : []));
      expect(new Set(shorts).size, c.name).toBe(shorts.length);
      for (const o of c.options) expect(o.description.length, `${c.name} --${o.name}`).toBeGreaterThan(0);
    }
  });
});
