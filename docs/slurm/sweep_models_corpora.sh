#!/bin/bash
# A models x corpora sweep as one Slurm array (one task per pair: collect, analyze), then `workbench compare`.
#
#   sbatch --array=0-5 docs/slurm/sweep_models_corpora.sh     # 3 models x 2 corpora = 6 tasks
#
# Each task writes its own run folder runs/sweep/MODEL__CORPUS; a collect interrupted by preemption
# resumes from its checkpoint when the task is requeued (--requeue). The compare job runs after every
# task succeeded and writes one table (and figure) by fractional depth across all pairs.
#SBATCH --job-name=wb-sweep
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=4
#SBATCH --mem=48G
#SBATCH --time=08:00:00
#SBATCH --requeue
#SBATCH --output=logs/%x-%A_%a.out
set -euo pipefail

MODELS=(${MODELS:-gemma-3-270m apertus-8b gemma-4-e4b})
CORPORA=(${CORPORA:-/data/corpora/gemma4-e4b-stories.jsonl /data/corpora/apertus-stories.jsonl})
OUT=${OUT:-runs/sweep}
WORKBENCH=${WORKBENCH:-workbench}
TASKS=$(( ${#MODELS[@]} * ${#CORPORA[@]} ))
I=${SLURM_ARRAY_TASK_ID:?submit as an array: sbatch --array=0-$((TASKS - 1)) $0}
MODEL=${MODELS[$(( I / ${#CORPORA[@]} ))]}
CORPUS=${CORPORA[$(( I % ${#CORPORA[@]} ))]}
RUN="$OUT/${MODEL//\//-}__$(basename "${CORPUS%.jsonl}")"
mkdir -p logs "$OUT"

"$WORKBENCH" collect --model "$MODEL" --corpus "$CORPUS" --device cuda --dtype bfloat16 \
    --max-tokens-per-batch 16384 --out "$RUN"
"$WORKBENCH" analyze "$RUN"

if [ "$I" = 0 ]; then
    runs=""
    for m in "${MODELS[@]}"; do for c in "${CORPORA[@]}"; do
        runs="$runs $OUT/${m//\//-}__$(basename "${c%.jsonl}")"
    done; done
    sbatch --dependency=afterok:"$SLURM_ARRAY_JOB_ID" --job-name=wb-compare --gres=gpu:0 --time=00:30:00 \
        --output="logs/%x-%j.out" --wrap "$WORKBENCH compare $runs --out $OUT/compare.csv"
fi
