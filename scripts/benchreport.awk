# Summarises `go test -bench` output for make bench: each benchmark's MB/s
# per input, beside parse-only, with its share of parse-only throughput,
# output bytes per input byte, peak live heap and, for Perfetto, the rows
# its trace processor would build per input event and per input MB
# (BenchmarkPerfettoRows).
/^Benchmark/ {
	np = split($1, parts, "/")
	name = parts[1]; sub(/^Benchmark/, "", name)
	# BenchmarkX/input or BenchmarkX/variant/input: the input comes last.
	for (k = 2; k < np; k++) name = name "/" parts[k]
	input = parts[np]; sub(/-[0-9]+$/, "", input)
	for (i = 2; i < NF; i++) {
		if ($(i+1) == "MB/s") mbs[name, input] = $i
		if ($(i+1) == "out/in") outin[name, input] = $i
		if ($(i+1) == "peak-heap-MB") heap[name, input] = $i
		if ($(i+1) == "events/s") evs[name, input] = $i
		if ($(i+1) == "spans/s") spans[name, input] = $i
		if ($(i+1) == "allocs/op") allocs[name, input] = $i
		if ($(i+1) == "rows/event") rows[input] = $i
		if ($(i+1) == "rows/MB") rowsMB[input] = $i
	}
	if (!(name in seen)) { seen[name] = 1; names[++n] = name }
	if (!(input in seenIn)) { seenIn[input] = 1; inputs[++m] = input }
}
END {
	for (j = 1; j <= m; j++) {
		in_ = inputs[j]
		base = mbs["ParseOnly", in_]
		printf "\n%s\n", in_
		printf "  %-20s %9s %9s %12s %10s %8s %10s %12s\n", "benchmark", "MB/s", "of parse", "events/s", "spans/s", "out/in", "peak MB", "allocs/op"
		for (i = 1; i <= n; i++) {
			b = names[i]
			if (!((b, in_) in mbs) && !((b, in_) in spans)) continue
			share = (base > 0 && ((b, in_) in mbs)) ? sprintf("%.0f%%", 100 * mbs[b, in_] / base) : "-"
			o = ((b, in_) in outin) ? outin[b, in_] : "-"
			sp = ((b, in_) in spans) ? spans[b, in_] : "-"
			printf "  %-20s %9s %9s %12s %10s %8s %10s %12s\n", b, mbs[b, in_], share, evs[b, in_], sp, o, heap[b, in_], allocs[b, in_]
		}
		if (in_ in rows) printf "  Perfetto rows per input event: %s, per input MB: %s\n", rows[in_], rowsMB[in_]
	}
}
