// The YAML parser, loaded on first use by code that runs on every command (the user config, a
// pipeline's header) and must not load it when there is nothing to parse. In the CLI bundle the
// `yaml` package is CommonJS behind a default export, so its namespace may lack named exports.
type Yaml = typeof import('yaml');

let loaded: Promise<Yaml['parse']> | undefined;

export function yamlParser(): Promise<Yaml['parse']> {
  loaded ??= import('yaml').then((m) => (m as Partial<Yaml>).parse ?? (m as unknown as { default: Yaml }).default.parse);
  return loaded;
}
