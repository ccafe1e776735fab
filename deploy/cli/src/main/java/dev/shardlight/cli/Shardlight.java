package dev.shardlight.cli;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Entry point of `bin/shardlight`: dispatches to a subcommand. */
public final class Shardlight {
    private Shardlight() {
    }

    static Map<String, Subcommand> commands() {
        Map<String, Subcommand> m = new LinkedHashMap<>();
        for (Subcommand s : List.of(new DemoCommand(), new LogitsCommand(), new GenerateCommand(), new BenchCommand(), new BatchBenchCommand(), new ClassifyBenchCommand(),
                new RandomModelCommand(), new TokenizeCommand(), new ChatTemplateCommand(), new TokenizerServiceCommand(), new ServeCommand(), new NodeCommand(), new ChatCommand())) {
            m.put(s.name(), s);
        }
        return m;
    }

    public static void main(String[] argv) {
        System.exit(run(argv, System.out, System.err));
    }

    static int run(String[] argv, PrintStream out, PrintStream err) {
        Map<String, Subcommand> commands = commands();
        if (argv.length == 0 || argv[0].equals("help") || argv[0].equals("--help") || argv[0].equals("-h")) {
            out.println("usage: shardlight COMMAND [options]\n\ncommands:");
            commands.values().forEach(c -> out.printf("  %-14s %s%n", c.name(), c.summary()));
            return argv.length == 0 ? 2 : 0;
        }
        Subcommand cmd = commands.get(argv[0]);
        if (cmd == null) {
            err.println("shardlight: unknown command \"" + argv[0] + "\"; try `shardlight help`");
            return 2;
        }
        try {
            return cmd.run(Arrays.asList(argv).subList(1, argv.length), out, err);
        } catch (Args.UsageException e) {
            err.println("shardlight " + cmd.name() + ": " + e.getMessage());
            err.println("usage: " + cmd.summary());
            return 2;
        } catch (Exception e) {
            err.println("shardlight " + cmd.name() + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            if (Boolean.getBoolean("shardlight.debug")) {
                e.printStackTrace(err);
            }
            return 1;
        } finally {
            out.flush();
        }
    }
}
