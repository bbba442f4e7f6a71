package dev.onionrelay.docs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The fenced code blocks of a Markdown file, each with the heading it stands under, as a user finds them: what the docs
 * tests paste. A block preceded (on the line before its fence) by {@code <!-- not-run: reason -->} is an illustration
 * (a fragment of a larger file, output shown for comparison); the tests that run a section's blocks skip those, and
 * {@link EveryDocBlockIsAccountedForTest} requires the reason.
 */
record DocBlocks(Path file, List<Block> blocks) {

    private static final Pattern NOT_RUN = Pattern.compile("<!--\\s*not-run:\\s*(.*?)\\s*-->");

    /** One fenced block: the line of its opening fence, the nearest heading above it, its language and text. */
    record Block(Path file, int line, String heading, String language, String text, String notRun) {

        boolean isBash() {
            return language.equals("bash") || language.equals("sh");
        }

        @Override
        public String toString() {
            return file + ":" + line + " (" + heading + ", ```" + language + ")";
        }
    }

    static DocBlocks read(Path file) {
        try {
            return parse(file, Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static DocBlocks parse(Path file, String text) {
        List<Block> blocks = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        String heading = "";
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            String stripped = line.strip();
            if (line.startsWith("#")) {
                heading = line.replaceFirst("^#+\\s*", "");
                continue;
            }
            if (!stripped.startsWith("```")) {
                continue;
            }
            String language = stripped.substring(3).strip();
            // An indented fence (inside a list item) is the same block to a reader; its lines lose that indent.
            String indent = line.substring(0, line.indexOf("```"));
            StringBuilder body = new StringBuilder();
            int start = i;
            for (i++; i < lines.length && !lines[i].strip().equals("```"); i++) {
                String inner = lines[i];
                body.append(inner.startsWith(indent) ? inner.substring(indent.length()) : inner)
                        .append('\n');
            }
            Matcher marker = NOT_RUN.matcher(start > 0 ? lines[start - 1] : "");
            blocks.add(new Block(
                    file, start + 1, heading, language, body.toString(), marker.find() ? marker.group(1) : null));
        }
        return new DocBlocks(file, List.copyOf(blocks));
    }

    /** The blocks under headings that start with {@code heading} (its sub-headings included, in file order). */
    List<Block> under(String heading) {
        List<Block> found = new ArrayList<>();
        String[] lines;
        try {
            lines = Files.readString(file).split("\n", -1);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int level = 0;
        boolean inside = false;
        boolean fenced = false;
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            if (line.strip().startsWith("```")) {
                fenced = !fenced;
                if (fenced && inside) {
                    int lineNumber = i + 1;
                    blocks.stream().filter(b -> b.line() == lineNumber).forEach(found::add);
                }
                continue;
            }
            if (fenced || !line.startsWith("#")) {
                continue;
            }
            int thisLevel = line.indexOf(' ');
            String title = line.substring(thisLevel + 1);
            if (title.startsWith(heading)) {
                inside = true;
                level = thisLevel;
            } else if (inside && thisLevel <= level) {
                inside = false;
            }
        }
        assertThat(found)
                .as("%s has blocks under a heading '%s'", file, heading)
                .isNotEmpty();
        return found;
    }

    /** The bash blocks under {@code heading} that are meant to be run. */
    List<String> bashUnder(String heading) {
        return under(heading).stream()
                .filter(Block::isBash)
                .filter(b -> b.notRun() == null)
                .map(Block::text)
                .toList();
    }

    /** The one bash block under {@code heading}. */
    String oneBashUnder(String heading) {
        List<String> found = bashUnder(heading);
        assertThat(found).as("bash blocks under '%s' in %s", heading, file).hasSize(1);
        return found.get(0);
    }
}
