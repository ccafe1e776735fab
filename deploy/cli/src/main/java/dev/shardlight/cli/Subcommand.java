package dev.shardlight.cli;

import java.io.PrintStream;
import java.util.List;

/** One `shardlight NAME ...` subcommand. Exit codes: 0 ok, 2 bad usage, 1 failure. */
public interface Subcommand {
    String name();

    /** One line shown by `shardlight help`. */
    String summary();

    int run(List<String> args, PrintStream out, PrintStream err) throws Exception;
}
