#!/usr/bin/env bash
# Runs every fuzz target for N seconds (default 60), one after the other, at the lowest CPU
# priority, and prints what each did: executions, executions per second, crashes. libFuzzer's
# working corpus grows in fuzz/corpus/<target>/ (git-ignored), starting from fuzz/seeds/;
# a crashing input lands in fuzz/artifacts/<target>/. Needs a nightly toolchain and cargo-fuzz.
#
#     fuzz/run-all.sh 600          # ten minutes each
#     fuzz/run-all.sh 60 lockfile  # only the targets named
#
# Built without AddressSanitizer unless FUZZ_SANITIZER says otherwise (address, memory…): the
# readers are safe Rust, whose defects are panics, overflow checks (on in cargo fuzz's build),
# stack overflows and runaway allocations, all of which libFuzzer catches alone, and the
# manifest target runs about 2.5 times as many inputs a second without it. FUZZ_ARGS adds
# libFuzzer options, such as -max_len=100000 for blow-ups that only large inputs reach (by
# default inputs grow to the largest seed's size, a few KB).
set -uo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
shift || true
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

sanitizer=(--sanitizer "${FUZZ_SANITIZER:-none}")
cargo +nightly fuzz build "${sanitizer[@]}" || exit 1
mkdir -p logs
printf '%-14s %12s %10s %8s\n' target execs 'exec/s' crashes
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    dict=()
    case "$target" in
        manifest | kdl_subset) dict=(-dict=dicts/kdl.dict) ;;
    esac
    before=$(find "artifacts/$target" -type f | wc -l)
    # -timeout: an input that takes 10 s is a blow-up worth keeping, as a crash is.
    nice -n 19 cargo +nightly fuzz run "${sanitizer[@]}" "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 "${dict[@]}" ${FUZZ_ARGS:-} \
        >"logs/$target.log" 2>&1
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$target.log" | grep -o '[0-9]*$')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "logs/$target.log" | grep -o '[0-9]*$')
    after=$(find "artifacts/$target" -type f | wc -l)
    printf '%-14s %12s %10s %8s\n' "$target" "${execs:-?}" "${rate:-?}" "$((after - before))"
done
echo "logs in fuzz/logs/; copy a crashing input to fuzz/regressions/<target>/ (see README.md)"
