// A declarative command line on Node's own parser (util.parseArgs): commands with positional
// arguments and options, help and version. Node ships the parser, so the CLI starts without loading
// an argument library (a no-op `sieve run` is mostly start-up).
import { parseArgs } from 'node:util';
import { UsageError } from '../runtime/errors.js';

export interface OptionSpec {
  /** Long name: `--dry-run`; its flag key is camel-cased (`dryRun`). `no-x` sets `x: false`. */
  name: string;
  short?: string;
  /** Placeholder of the value (`<dir>`); without one the option is a switch. */
  value?: string;
  description: string;
  /** May be given more than once; the flag is then a list. */
  repeatable?: boolean;
  default?: string;
  required?: boolean;
  hidden?: boolean;
}

/** Option values by camel-cased name: a string, a list (repeatable), true (a switch), false (`no-x`). */
export type Flags = Record<string, unknown>;

export interface CommandSpec {
  name: string;
  /** Positional arguments: `<node>` required, `[pipeline]` optional, `[lockfiles...]` any number. */
  args: string[];
  description: string;
  options: OptionSpec[];
  action(args: (string | string[] | undefined)[], flags: Flags): Promise<void>;
}

export interface ProgramSpec {
  name: string;
  version: string;
  description: string;
  commands: CommandSpec[];
}

const HELP: OptionSpec = { name: 'help', short: 'h', description: 'display help for command' };

const camel = (name: string): string => name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

function optionLabel(o: OptionSpec): string {
  return `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.value ? ` ${o.value}` : ''}`;
}

function table(rows: [string, string][]): string {
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`).join('\n');
}

/** `show [options] <node> [pipeline]`: a command as help lists it. */
function signature(cmd: CommandSpec): string {
  return `${cmd.name} [options]${cmd.args.length ? ` ${cmd.args.join(' ')}` : ''}`;
}

function usageLine(program: ProgramSpec, cmd: CommandSpec): string {
  return `${program.name} ${signature(cmd)}`;
}

export function commandHelp(program: ProgramSpec, cmd: CommandSpec): string {
  const options = [...cmd.options, HELP].filter((o) => !o.hidden);
  const rows = options.map((o): [string, string] => [optionLabel(o), `${o.description}${o.default !== undefined ? ` (default: "${o.default}")` : ''}`]);
  return `Usage: ${usageLine(program, cmd)}\n\n${cmd.description}\n\nOptions:\n${table(rows)}\n`;
}

export function programHelp(program: ProgramSpec): string {
  const commands = program.commands.map((c): [string, string] => [signature(c), c.description]);
  return (
    `Usage: ${program.name} [options] [command]\n\n${program.description}\n\n` +
    `Options:\n${table([['-V, --version', 'output the version number'], ['-h, --help', 'display help for command']])}\n\n` +
    `Commands:\n${table([...commands, ['help [command]', 'display help for command']])}\n`
  );
}

/** Parses `argv` (without node and the script) for one command: its positionals in order and its flags. */
export function parseCommand(program: ProgramSpec, cmd: CommandSpec, argv: readonly string[]): { args: (string | string[] | undefined)[]; flags: Flags; help: boolean } {
  const options = Object.fromEntries(
    [...cmd.options, HELP].map((o) => [
      o.name,
      { type: o.value ? ('string' as const) : ('boolean' as const), multiple: Boolean(o.repeatable), ...(o.short ? { short: o.short } : {}) },
    ]),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    // Node's first sentence says it all ("Unknown option '--x'"); the rest is about `--`.
    const message = (e as Error).message.split('. ')[0];
    throw new UsageError(`${message.charAt(0).toLowerCase()}${message.slice(1)} (see \`${program.name} ${cmd.name} --help\`)`);
  }
  if (parsed.values.help) return { args: [], flags: {}, help: true };
  const flags: Flags = {};
  for (const o of cmd.options) {
    const v = parsed.values[o.name];
    if (o.name.startsWith('no-')) {
      if (v) flags[camel(o.name.slice(3))] = false;
    } else flags[camel(o.name)] = v ?? o.default;
    if (o.required && v === undefined) throw new UsageError(`required option '${optionLabel(o)}' not specified (see \`${program.name} ${cmd.name} --help\`)`);
  }
  const given = [...parsed.positionals];
  const args: (string | string[] | undefined)[] = [];
  for (const a of cmd.args) {
    if (a.endsWith('...]') || a.endsWith('...>')) args.push(given.splice(0));
    else if (a.startsWith('<') && given.length === 0) throw new UsageError(`missing required argument ${a} (usage: ${usageLine(program, cmd)})`);
    else args.push(given.shift());
  }
  if (given.length > 0) throw new UsageError(`too many arguments for '${cmd.name}': ${given.join(' ')} (usage: ${usageLine(program, cmd)})`);
  return { args, flags, help: false };
}

/** Runs the command `argv` names (argv as process.argv: node, script, then the arguments). */
export async function runProgram(program: ProgramSpec, argv: readonly string[], out: { write(s: string): unknown } = process.stdout): Promise<void> {
  const [first, ...rest] = argv.slice(2);
  if (first === '-V' || first === '--version') {
    out.write(`${program.version}\n`);
    return;
  }
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    const cmd = first === 'help' && rest[0] ? program.commands.find((c) => c.name === rest[0]) : undefined;
    out.write(cmd ? commandHelp(program, cmd) : programHelp(program));
    if (first === undefined) throw new UsageError('no command given');
    return;
  }
  const cmd = program.commands.find((c) => c.name === first);
  if (!cmd) {
    throw new UsageError(`unknown command '${first}' (commands: ${program.commands.map((c) => c.name).join(', ')}; see \`${program.name} --help\`)`);
  }
  const { args, flags, help } = parseCommand(program, cmd, rest);
  if (help) {
    out.write(commandHelp(program, cmd));
    return;
  }
  await cmd.action(args, flags);
}
