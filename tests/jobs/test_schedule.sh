# proact schedule: the lag histogram of read schedules on the fixture. wait-k's counts equal an
# independent count in Python (words split on white space), band 1..3 and stream.lag_floor keep to
# their buckets, the seed decides the draws, and a bad spec or key is one error line naming it.
source "$(dirname "$0")/lib.sh"
FIX="$SRC/tests/data/fixture"
DATA=(--data "$FIX/john.en-es.train.tsv" --set data.tokenizer="$FIX/tokenizer.json")

"$PROACT" schedule "${DATA[@]}" --schedule waitk:k=3 --json >"$WORK/waitk.json"
check "wait-3's counts equal an independent count" "$PYTHON" -c "
import json
h = json.load(open('$WORK/waitk.json'))
want = {b: 0 for b in ['<0', '0', '1', '2', '3', '4', '5', '>=6', 'full']}
for line in open('$FIX/john.en-es.train.tsv', encoding='utf-8'):
    src, tgt = line.rstrip('\n').split('\t')
    n, m = len(src.split()), len(tgt.split())
    for j in range(1, m + 1):
        g = min(3 + j - 1, n + 1)
        lag = g - (j - 1)
        want['full' if g == n + 1 else '<0' if lag < 0 else '>=6' if lag >= 6 else str(lag)] += 1
got = {b['lag']: b['words'] for b in h['buckets']}
assert got == want and h['examples'] == 586 and h['schedule'] == 'waitk:k=3', (got, want)
assert abs(sum(b['share'] for b in h['buckets']) - 1) < 1e-9"

"$PROACT" schedule "${DATA[@]}" --schedule band:min_lag=1,max_lag=3,p_full=0.1 --json >"$WORK/band.json"
check "band 1..3: every row at lag 1, 2, 3 or full" "$PYTHON" -c "
import json
got = {b['lag']: b['words'] for b in json.load(open('$WORK/band.json'))['buckets']}
assert all(got[b] == 0 for b in ['<0', '0', '4', '5', '>=6']) and all(got[b] > 0 for b in ['1', '2', '3', 'full']), got"

"$PROACT" schedule "${DATA[@]}" >"$WORK/random.txt"
cat "$WORK/random.txt"
check "the table names the config's schedule as a spec" \
  grep -q "^schedule random:k_min=1,k_max=3,mean_step=1,p_full=0.1,lag_floor=none,drift=0$" "$WORK/random.txt"
check "random's default walk falls behind (rows at lag < 0)" grep -Eq '^<0 +[1-9]' "$WORK/random.txt"
"$PROACT" schedule "${DATA[@]}" --set stream.lag_floor=0 --json >"$WORK/floor.json"
check "stream.lag_floor=0: no row below lag 0" "$PYTHON" -c "
import json
h = json.load(open('$WORK/floor.json'))
assert h['buckets'][0] == {'lag': '<0', 'words': 0, 'share': 0.0} and 'lag_floor=0' in h['schedule'], h"

"$PROACT" schedule "${DATA[@]}" --samples 100 --seed 5 --json >"$WORK/s5a.json"
"$PROACT" schedule "${DATA[@]}" --samples 100 --seed 5 --json >"$WORK/s5b.json"
"$PROACT" schedule "${DATA[@]}" --samples 100 --seed 6 --json >"$WORK/s6.json"
check "--samples 100: 100 examples" grep -q '"examples":100,' "$WORK/s5a.json"
check "the same seed draws the same schedules" cmp -s "$WORK/s5a.json" "$WORK/s5b.json"
check "another seed draws others" bash -c "! cmp -s '$WORK/s5a.json' '$WORK/s6.json'"
check "--help explains the lag" bash -c "'$PROACT' schedule --help | grep -q 'lag = g(j) - (j - 1)'"

expect_fail "an unknown key in a spec" "unknown key 'k_mim' for random" \
  "$PROACT" schedule "${DATA[@]}" --schedule random:k_mim=2
expect_fail "a bad config value names its key" "stream.max_lag: must be in min_lag = 1.." \
  "$PROACT" schedule "${DATA[@]}" --set stream.max_lag=0
expect_fail "no data" "no data: give --data" "$PROACT" schedule
finish
