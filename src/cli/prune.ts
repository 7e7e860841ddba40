import { parseArgs } from 'node:util';

import { loadModel, saveModel } from '../onnx/model.js';
import { prune, type PruneScope } from '../onnx/prune.js';

const usage = 'usage: pruneguard prune --sparsity <0..1> [--scope global|per-tensor] <in.onnx> <out.onnx>';

/**
 * `pruneguard prune`: magnitude-prunes the weight matrices of an ONNX model. Returns the exit
 * code (0 done, 1 the model could not be pruned, 2 the command line is wrong).
 */
export async function runPrune(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        sparsity: { type: 'string' },
        scope: { type: 'string', default: 'global' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const sparsity = Number(values.sparsity);
  const scope = values.scope as PruneScope;
  const [input, output] = positionals;
  const problem =
    values.sparsity === undefined || !(sparsity >= 0 && sparsity < 1)
      ? `--sparsity must be a number in [0, 1), got '${values.sparsity ?? ''}'`
      : scope !== 'global' && scope !== 'per-tensor'
        ? `--scope must be global or per-tensor, got '${scope}'`
        : !input || !output || positionals.length !== 2
          ? 'expected exactly two files: <in.onnx> <out.onnx>'
          : undefined;
  if (problem || !input || !output) {
    console.error(`${problem ?? 'bad arguments'}\n${usage}`);
    return 2;
  }

  try {
    const { model, stats } = prune(await loadModel(input), { sparsity, scope });
    await saveModel(model, output);
    console.log(
      `pruned ${input} -> ${output} (${scope}): ${stats.parameters} params, ` +
        `non-zero ${stats.nonZeroBefore} -> ${stats.nonZeroAfter}, ` +
        `weight sparsity ${stats.weightSparsity.toFixed(4)}, overall sparsity ${stats.sparsity.toFixed(4)}`,
    );
    return 0;
  } catch (error) {
    console.error(`pruneguard prune: ${(error as Error).message}`);
    return 1;
  }
}
