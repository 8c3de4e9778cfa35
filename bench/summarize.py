#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Merge several spawn-async-bench CSV files into medians.

    bench/summarize.py run1.csv run2.csv run3.csv --csv median.csv > tables.md

Prints Markdown tables (the median over the runs of each statistic) and
the targets, each with its value in every run and the median; --csv
writes the medians in the benchmark's own CSV format, for
bench/plot-blocking.sh.
"""
import argparse
import csv
import math
import statistics
import sys

FIELDS = ['mode', 'method', 'heap_mib', 'metric', 'unit', 'n', 'p50', 'p99', 'max', 'value']
MODES = ['block', 'latency', 'throughput', 'memory', 'capture', 'mainloop', 'pipe', 'conversation',
         'free', 'create']


def number(text):
    return float(text) if text not in ('', None) else math.nan


def median(values):
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def load(paths):
    runs = []
    for path in paths:
        with open(path, newline='') as f:
            runs.append({(r['mode'], r['method'], int(r['heap_mib']), r['metric']): r
                         for r in csv.DictReader(f)})
    return runs


def merge(runs):
    keys = []
    for run in runs:
        for key in run:
            if key not in keys:
                keys.append(key)
    merged = {}
    for key in keys:
        rows = [run[key] for run in runs if key in run]
        merged[key] = {
            'mode': key[0], 'method': key[1], 'heap_mib': key[2], 'metric': key[3],
            'unit': rows[0]['unit'], 'n': rows[0]['n'], 'runs': len(rows),
            **{s: median([number(r[s]) for r in rows]) for s in ('p50', 'p99', 'max', 'value')},
        }
    return merged


def fmt(value, unit):
    if math.isnan(value):
        return ''
    if unit == 'us':
        if value >= 10000:
            return f'{value / 1000:.1f} ms'
        if value >= 1000:
            return f'{value / 1000:.2f} ms'
        return f'{value:.1f} µs'
    if unit == 'kB':
        return f'{value:.0f} kB'
    if unit == '':
        return f'{value:.0f}'
    if unit == 'x':
        return f'{value:.2f}×'
    if unit == 'per call':
        return f'{value:.1f}'
    return f'{value:.0f} {unit}'


def heap(mib):
    return f'{mib // 1024} GiB' if mib >= 1024 and mib % 1024 == 0 else f'{mib} MiB'


def print_tables(merged, out):
    for mode in MODES:
        rows = [r for r in merged.values() if r['mode'] == mode]
        if not rows:
            continue
        if mode in ('block', 'create'):
            rows.sort(key=lambda r: r['heap_mib'])
        out.write(f'\n#### {mode}\n\n')
        if all(math.isnan(r['p50']) for r in rows):
            out.write('| method | heap | metric | value |\n|---|---|---|---|\n')
            for r in rows:
                out.write(f"| {r['method']} | {heap(r['heap_mib'])} | {r['metric']} "
                          f"| {fmt(r['value'], r['unit'])} |\n")
        else:
            out.write('| method | heap | metric | n | p50 | p99 | max |\n'
                      '|---|---|---|---|---|---|---|\n')
            for r in rows:
                if math.isnan(r['p50']):
                    out.write(f"| {r['method']} | {heap(r['heap_mib'])} | {r['metric']} "
                              f"| | {fmt(r['value'], r['unit'])} | | |\n")
                else:
                    out.write(f"| {r['method']} | {heap(r['heap_mib'])} | {r['metric']} | {r['n']} "
                              f"| {fmt(r['p50'], r['unit'])} | {fmt(r['p99'], r['unit'])} "
                              f"| {fmt(r['max'], r['unit'])} |\n")


def targets(run):
    """(name, value, unit, less_is_better, limit) for one run (or the medians)."""
    found = []

    def get(mode, method, metric, stat, heap_mib=None):
        for (m, meth, h, met), r in run.items():
            if m == mode and meth == method and met == metric and heap_mib in (None, h):
                return number(r[stat]) if isinstance(r[stat], str) else r[stat]
        return None

    for method, call in (('SaWorker', 'aspawn_async'), ('SaProcess', 'spawn_async')):
        heaps = sorted({h for (m, meth, h, met) in run if m == 'block' and meth == method})
        for h in heaps:
            found.append((f'{call} blocking p50, {heap(h)} heap',
                          get('block', method, 'block', 'p50', h), 'us', True, 30))
            found.append((f'{call} blocking p99, {heap(h)} heap',
                          get('block', method, 'block', 'p99', h), 'us', True, 200))
    a = get('latency', 'SaWorker', 'latency', 'p50')
    b = get('latency', 'posix_spawn', 'latency', 'p50')
    if a and b:
        found.append(('end-to-end /bin/true p50, SaWorker ÷ posix_spawn+waitpid', a / b, 'x', True, 1.10))
    a = get('throughput', 'SaWorker / posix_spawn', 'ratio', 'p50')
    if a is not None:
        found.append(('throughput, 64 in flight, SaWorker ÷ posix_spawn', a, 'x', False, 0.9))
    for metric, limit, name in (('VmRSS idle', 2048, 'helper VmRSS, idle'),
                                ('RssAnon idle', 256, 'helper RssAnon, idle'),
                                ('RssAnon busy', 1024, 'helper RssAnon, 64 children')):
        a = get('memory', 'SaWorker helper', metric, 'value')
        if a is not None:
            found.append((name, a, 'kB', True, limit))
    a = get('capture', 'SaWorker', 'throughput', 'p50')
    b = get('capture', 'GSubprocess communicate', 'throughput', 'p50')
    if a and b:
        found.append(('output capture, SaWorker ÷ GSubprocess communicate', a / b, 'x', False, 2.0))
    a = get('pipe', 'SaProcess / GSubprocess', 'ratio', 'p50')
    if a is not None:
        found.append(('stdout pipe read to the end, SaProcess ÷ GSubprocess', a, 'x', False, 1.0))
    a = get('pipe', 'SaProcess / posix_spawn+read', 'ratio', 'p50')
    if a is not None:
        found.append(('stdout pipe read to the end, SaProcess ÷ plain read() loop', a, 'x', False, 0.9))
    for h in sorted({h for (m, meth, h, met) in run if m == 'create'}):
        a = get('create', 'SaWorker new_async', 'block', 'p50', h)
        if a is not None:
            found.append((f'new_async blocking p50, {heap(h)} heap', a, 'us', True, 100))
    a = get('free', 'SaWorker result', 'unref', 'max')
    if a is not None:
        found.append(('dropping a big result (SaWorker), worst', a, 'us', True, 200))
    a = get('mainloop', 'SaWorker', 'timer lateness', 'max')
    if a is not None:
        found.append(('1 ms timer, worst lateness (SaWorker)', a / 1000, 'ms', True, 5.0))
    b = get('mainloop', 'plain thread (floor)', 'timer lateness', 'max')
    if a is not None and b is not None:
        found.append(('1 ms timer, worst lateness, SaWorker − plain thread (floor)',
                      (a - b) / 1000, 'ms', True, 2.0))
    return found


def fmt_target(value, unit):
    if value is None or math.isnan(value):
        return '–'
    if unit == 'us':
        return f'{value:.1f} µs'
    if unit == 'x':
        return f'{value:.2f}×'
    if unit == 'kB':
        return f'{value:.0f} kB'
    return f'{value:.2f} {unit}'


def print_targets(runs, out):
    per_run = [targets(run) for run in runs]
    names = [t[0] for t in per_run[0]]
    out.write('\n| target | limit | ' + ' | '.join(f'run {i + 1}' for i in range(len(runs)))
              + ' | median | met |\n')
    out.write('|---|---|' + '---|' * len(runs) + '---|---|\n')
    for i, name in enumerate(names):
        _, _, unit, less, limit = per_run[0][i]
        values = [t[i][1] for t in per_run if i < len(t) and t[i][0] == name]
        med = median([v for v in values if v is not None])
        met = med <= limit if less else med >= limit
        limit_text = ('≤ ' if less else '≥ ') + fmt_target(limit, unit)
        out.write(f'| {name} | {limit_text} | '
                  + ' | '.join(fmt_target(v, unit) for v in values)
                  + f' | {fmt_target(med, unit)} | {"yes" if met else "**no**"} |\n')


def write_csv(merged, path):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        for r in merged.values():
            w.writerow([r['mode'], r['method'], r['heap_mib'], r['metric'], r['unit'], r['n']]
                       + ['' if math.isnan(r[s]) else f'{r[s]:.3f}'
                          for s in ('p50', 'p99', 'max', 'value')])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('csv_files', nargs='+')
    parser.add_argument('--csv', help='write the medians here')
    args = parser.parse_args()

    runs = load(args.csv_files)
    merged = merge(runs)
    out = sys.stdout
    out.write(f'Medians over {len(runs)} runs.\n')
    print_tables(merged, out)
    out.write('\n#### targets\n')
    print_targets(runs, out)
    if args.csv:
        write_csv(merged, args.csv)


if __name__ == '__main__':
    main()
