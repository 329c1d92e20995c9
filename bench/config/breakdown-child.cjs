// One fresh process for breakdown.mjs: the steps of `keepalived-ts -t` one by one, after time marks,
// started as the bin starts (a CommonJS script loading dist/keepalived-ts.cjs, else dist/main.js).
// argv: FILE EXIT-MODE ('natural' or 'exit-now'). Prints the marks (epoch ms) as JSON on stdout.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const marks = { start: performance.timeOrigin };
const mark = (name) => {
  marks[name] = performance.timeOrigin + performance.now();
};
marks.bootstrapComplete = performance.timeOrigin + performance.nodeTiming.bootstrapComplete;
mark('entry');

async function run() {
  const dist = join(__dirname, '..', '..', 'dist');
  const bundle = join(dist, 'keepalived-ts.cjs');
  if (existsSync(bundle)) require(bundle);
  else await import(join(dist, 'main.js'));
  mark('imported');
  // the stages as loadConfig runs them (dist/ copies of the bundled modules: the same code)
  const { LineParser } = require(join(dist, 'config/parse.js'));
  const { preprocessInto } = require(join(dist, 'config/preprocess.js'));
  const { ConfigBuilder } = require(join(dist, 'config/check.js'));
  const { DiagnosticSink, configTestExitCode, formatDiagnostic } = require(
    join(dist, 'config/diagnostics.js'),
  );
  const { sysfsInterfaceExists, systemScriptEnv } = require(join(dist, 'config/load.js'));
  mark('ready');
  const diags = new DiagnosticSink();
  const parser = new LineParser(diags);
  const files = preprocessInto(process.argv[2], { configId: 'bench', allConfig: false }, diags, parser);
  const ast = parser.end();
  mark('parsed');
  const config = new ConfigBuilder(diags, {
    configId: 'bench',
    files,
    interfaceExists: sysfsInterfaceExists,
    scripts: systemScriptEnv,
  }).build(ast);
  Object.freeze(config);
  mark('built');
  const text = diags.list.map((d) => `${formatDiagnostic(d)}\n`).join('');
  if (text) process.stderr.write(text);
  process.exitCode = configTestExitCode(diags.list);
  mark('reported');
  process.stdout.write(JSON.stringify(marks));
  if (process.argv[3] === 'exit-now') process.exit();
}

run();
