package dev.shardlight.tests;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The OpenAI-compatible HTTP API driven by the official `openai` Python SDK (and langchain-openai
 * where importable): runs src/test/python/run.sh, which makes target/venv from the local wheels
 * and starts `shardlight serve` from this build (this test's classpath). Output in
 * target/openai-sdk-test.log.
 */
class OpenAiSdkTest {
    @Test
    void officialOpenAiClientsAgainstARunningServer() throws Exception {
        Path script = Path.of("src", "test", "python", "run.sh").toAbsolutePath();
        boolean python = false;
        try {
            Process p = new ProcessBuilder("python3", "-c", "import venv, ensurepip").redirectErrorStream(true).start();
            python = p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (java.io.IOException e) {
            // no python3
        }
        Assumptions.assumeTrue(python, "python3 with venv/ensurepip is not available: the OpenAI SDK test cannot run");
        String java = ProcessHandle.current().info().command().orElse("java");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        String cmd = String.join(" ", List.of(quote(java), "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-Xmx512m", "-cp", quote(cp), "dev.shardlight.cli.Shardlight"));
        Path log = Path.of("target", "openai-sdk-test.log");
        Files.createDirectories(log.getParent());
        ProcessBuilder pb = new ProcessBuilder("bash", script.toString(), "-rs").redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().put("SHARDLIGHT_CMD", cmd);
        pb.environment().put("SHARDLIGHT_TEST_VENV", Path.of("target", "venv").toAbsolutePath().toString());
        Process p = pb.start();
        boolean done = p.waitFor(12, TimeUnit.MINUTES);
        if (!done) {
            p.destroyForcibly();
        }
        String out = Files.readString(log);
        assertTrue(done, "pytest did not finish in 12 minutes:\n" + tail(out));
        if (p.exitValue() != 0 && out.contains("No matching distribution found")) {
            Assumptions.abort("the test venv could not be made from the local wheels:\n" + tail(out));
        }
        assertEquals(0, p.exitValue(), "pytest failed:\n" + tail(out));
    }

    private static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    private static String tail(String s) {
        return s.length() <= 6000 ? s : s.substring(s.length() - 6000);
    }
}
