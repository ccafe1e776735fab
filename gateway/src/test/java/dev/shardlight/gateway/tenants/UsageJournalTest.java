package dev.shardlight.gateway.tenants;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class UsageJournalTest {
    @Test
    void linesRoundTripEvenWithTabsNewlinesAndPercentInNames() {
        UsageRecord r = new UsageRecord(1_700_000_000_123L, "t%09x", "k\t1", "model\nwith%25odd", 7, 11, 3);
        assertEquals(r, UsageJournal.parse(UsageJournal.format(r)));
        String line = UsageJournal.format(r);
        assertNull(UsageJournal.parse(line.replace("\t7\t", "\t8\t")), "a changed count fails the CRC");
    }

    @Test
    void replaysEveryRecordAndCutsOffATornLastLine(@TempDir Path dir) throws Exception {
        UsageRecord a = new UsageRecord(1000, "acme", "k1", "tiny", 3, 5, 0);
        UsageRecord b = new UsageRecord(2000, "beta", "", "tiny", 4, 6, 1);
        try (UsageJournal j = UsageJournal.open(dir, r -> { })) {
            j.append(a);
            j.append(b);
            j.sync().get();
        }
        // a crash in the middle of a write leaves half a line
        Files.writeString(dir.resolve(UsageJournal.FILE), "u1\t3000\tacme\tk1\tti", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        List<UsageRecord> replayed = new ArrayList<>();
        UsageRecord c = new UsageRecord(4000, "acme", "k1", "tiny", 1, 1, 0);
        try (UsageJournal j = UsageJournal.open(dir, replayed::add)) {
            j.append(c);
        }
        assertEquals(List.of(a, b), replayed);
        List<UsageRecord> again = new ArrayList<>();
        UsageJournal.open(dir, again::add).close();
        assertEquals(List.of(a, b, c), again, "the torn line was cut off and the next record follows the last good one");
    }
}
