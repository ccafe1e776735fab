package dev.shardlight.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * `--name value` / `--flag` command-line options. Unknown options and missing values are usage
 * errors that name the option, so a typo never silently falls back to a default.
 */
public final class Args {
    /** A usage error: printed with the subcommand's usage and exit code 2. */
    public static final class UsageException extends RuntimeException {
        public UsageException(String message) {
            super(message);
        }
    }

    private final Map<String, String> values = new HashMap<>();
    private final Set<String> flags = new HashSet<>();
    private final List<String> positional = new ArrayList<>();

    /**
     * @param valued options that take a value; {@code booleans} options that don't
     */
    public Args(List<String> args, Set<String> valued, Set<String> booleans) {
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.startsWith("--")) {
                String name = a.substring(2);
                String inline = null;
                int eq = name.indexOf('=');
                if (eq >= 0) {
                    inline = name.substring(eq + 1);
                    name = name.substring(0, eq);
                }
                if (booleans.contains(name)) {
                    flags.add(name);
                } else if (valued.contains(name)) {
                    if (inline == null) {
                        if (i + 1 >= args.size()) {
                            throw new UsageException("--" + name + " needs a value");
                        }
                        inline = args.get(++i);
                    }
                    values.put(name, inline);
                } else {
                    throw new UsageException("unknown option --" + name);
                }
            } else {
                positional.add(a);
            }
        }
    }

    public boolean flag(String name) {
        return flags.contains(name);
    }

    public String get(String name) {
        return values.get(name);
    }

    public String required(String name) {
        String v = values.get(name);
        if (v == null) {
            throw new UsageException("--" + name + " is required");
        }
        return v;
    }

    public int getInt(String name, int dflt) {
        String v = values.get(name);
        try {
            return v == null ? dflt : Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " expects an integer, got \"" + v + "\"");
        }
    }

    public float getFloat(String name, float dflt) {
        String v = values.get(name);
        try {
            return v == null ? dflt : Float.parseFloat(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " expects a number, got \"" + v + "\"");
        }
    }

    public Long getLong(String name) {
        String v = values.get(name);
        try {
            return v == null ? null : Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " expects an integer, got \"" + v + "\"");
        }
    }

    /** A comma-separated list of token ids. */
    public int[] ids(String name) {
        String v = values.get(name);
        if (v == null) {
            return null;
        }
        String[] parts = v.split(",");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                out[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new UsageException("--" + name + " expects comma-separated token ids, got \"" + parts[i] + "\"");
            }
        }
        return out;
    }

    public List<String> positional() {
        return positional;
    }

    /** For commands that take only options: a stray word is a usage error, never silently ignored. */
    public Args noPositional() {
        if (!positional.isEmpty()) {
            throw new UsageException("unexpected argument \"" + positional.get(0) + "\" (options start with --)");
        }
        return this;
    }
}
