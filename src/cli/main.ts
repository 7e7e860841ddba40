#!/usr/bin/env node
/**
 * `pruneguard <command>`: one program for the operator, the evaluation pod and local use.
 * Each command lives in its own module and is loaded only when asked for.
 */
const commands: Record<
  string,
  { summary: string; load: () => Promise<(argv: string[]) => Promise<number>> }
> = {
  evaluate: {
    summary: 'evaluate a PrunedModelEvaluation manifest on local files and print the graded report',
    load: async () => (await import('./evaluate.js')).runEvaluate,
  },
  prune: {
    summary: 'magnitude-prune an ONNX model: prune --sparsity 0.7 in.onnx out.onnx',
    load: async () => (await import('./prune.js')).runPrune,
  },
  operator: {
    summary: 'run the controller (in the cluster, or against any kubeconfig)',
    load: async () => (await import('./operator.js')).runOperator,
  },
  evaluator: {
    summary: 'the evaluation pod entrypoint: evaluate one shard of an EvaluationRun and write its status',
    load: async () => (await import('./evaluator.js')).runEvaluator,
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'usage: pruneguard <command> [options]',
    '',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'pruneguard <command> --help for the options of a command.',
  ].join('\n');
}

const [name, ...argv] = process.argv.slice(2);
const command = name === undefined ? undefined : commands[name];
if (!command) {
  const help = name === undefined || name === '--help' || name === '-h' || name === 'help';
  (help ? console.log : console.error)(
    help ? usage() : `pruneguard: unknown command "${name}"\n\n${usage()}`,
  );
  process.exit(help ? 0 : 2);
}
process.exitCode = await (await command.load())(argv);
