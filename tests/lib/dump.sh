# tests/lib/dump.sh: what of a HotSpot thread dump (jcmd Thread.print) of
# tests/fixtures/java/Burner is stable from one dump to the next.

# dump_java_threads < DUMP: the Java threads ("name" #N ...), sorted. Not
# the VM's own threads: HotSpot starts GC workers (GC Thread#1...) and
# compiler threads on demand, so two dumps a moment apart differ there.
dump_java_threads() {
    grep -E '^"[^"]*" #[0-9]+ ' | sed 's/^"\([^"]*\)".*/\1/' | grep -v 'CompilerThread' | sort
}

# dump_has_burner DUMP: the burner thread is there with its stack in
# Burner's code. Its run method is on every stack; which method is on top
# (flameshotBurnCpu, allocate...) depends on the instant of the dump.
dump_has_burner() {
    awk '/^"flameshot-burner" #/,/^$/' "$1" |
        grep -Eq '^\s+at Burner\.lambda\$main\$[0-9]+\(Burner\.java:[0-9]+\)$'
}
