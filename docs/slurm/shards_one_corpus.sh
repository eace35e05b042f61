#!/bin/bash
# One corpus, one model, N shards as a Slurm array, then the merge and the analysis once all shards are done.
#
#   sbatch --array=0-3 docs/slurm/shards_one_corpus.sh            # 4 shards (the array size is N)
#   MODEL=apertus-8b CORPUS=/data/stories.jsonl sbatch --array=0-7 docs/slurm/shards_one_corpus.sh
#
# Every shard computes the same fixed plan (texts sorted by length, token-budget batches) and runs
# batches I, I+N, I+2N, ...; `workbench merge` refuses shards of different plans (model, texts sha256,
# offset, layers, batches) and an incomplete set, and writes the run folder a one-process collect would
# have written (the means are bit for bit the same). The merge job is submitted by shard 0 with an
# afterok dependency on the whole array.
#SBATCH --job-name=wb-collect
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=4
#SBATCH --mem=32G
#SBATCH --time=04:00:00
#SBATCH --output=logs/%x-%A_%a.out
set -euo pipefail

MODEL=${MODEL:-gemma-3-270m}
CORPUS=${CORPUS:-bundled}
RUN=${RUN:-runs/${MODEL//\//-}-$(basename "${CORPUS%.jsonl}")}
N=${SLURM_ARRAY_TASK_COUNT:?submit as an array: sbatch --array=0-(N-1) $0}
I=${SLURM_ARRAY_TASK_ID}
WORKBENCH=${WORKBENCH:-workbench}
mkdir -p logs "$RUN/shards"

"$WORKBENCH" collect --model "$MODEL" --corpus "$CORPUS" --device cuda --dtype bfloat16 \
    --max-tokens-per-batch 16384 --shard "$I/$N" --out "$RUN/shards/$I"

if [ "$I" = 0 ]; then
    # the merge and the analysis run once, after every shard of this array succeeded
    sbatch --dependency=afterok:"$SLURM_ARRAY_JOB_ID" --job-name=wb-merge --gres=gpu:0 --time=01:00:00 \
        --output="logs/%x-%j.out" --wrap "set -e
        shards=\$(for i in \$(seq 0 $((N - 1))); do printf '%s ' '$RUN/shards/'\$i; done)
        $WORKBENCH merge \$shards --out '$RUN'
        $WORKBENCH analyze '$RUN'
        $WORKBENCH report '$RUN'"
fi
