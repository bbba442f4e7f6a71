package dev.onionrelay.deploy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The repository's Dockerfile read as instructions, per build stage: enough of Docker's syntax to check what the image
 * does against the build (continuation lines, comments, exec and shell forms, {@code --flags}).
 */
record Dockerfile(List<Stage> stages) {

    static final Path FILE = Path.of("Dockerfile");

    /** One {@code FROM ... [AS name]} and the instructions after it. */
    record Stage(String image, String name, List<Instruction> instructions) {

        List<Instruction> all(String keyword) {
            return instructions.stream()
                    .filter(i -> i.keyword().equals(keyword))
                    .toList();
        }

        Instruction last(String keyword) {
            List<Instruction> found = all(keyword);
            if (found.isEmpty()) {
                throw new AssertionError("stage " + name + " has no " + keyword);
            }
            return found.get(found.size() - 1);
        }
    }

    /** One instruction: keyword in upper case, its {@code --flags}, and the rest of the line. */
    record Instruction(String keyword, List<String> flags, String arguments) {

        /** The arguments of an exec-form instruction ({@code ["java", "x"]}), else null. */
        List<String> execForm() {
            String text = arguments.trim();
            if (!text.startsWith("[")) {
                return null;
            }
            List<String> words = new ArrayList<>();
            for (Object word : (List<?>) Chart.parse(text)) {
                words.add((String) word);
            }
            return words;
        }

        /** The command of {@code HEALTHCHECK [flags] CMD ["..."]} in exec form. */
        List<String> healthcheckCommand() {
            String text = arguments.trim();
            if (!keyword.equals("HEALTHCHECK") || !text.startsWith("CMD ")) {
                throw new AssertionError("not a HEALTHCHECK CMD: " + this);
            }
            return new Instruction("CMD", List.of(), text.substring(4)).execForm();
        }

        List<String> words() {
            return Arrays.asList(arguments.trim().split("\\s+"));
        }
    }

    static Dockerfile read() {
        return parse(Chart.read(FILE));
    }

    static Dockerfile parse(String text) {
        List<String> logical = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : text.split("\n", -1)) {
            String trimmed = line.strip();
            if (current.isEmpty() && (trimmed.isEmpty() || trimmed.startsWith("#"))) {
                continue;
            }
            if (!current.isEmpty() && trimmed.startsWith("#")) {
                continue; // comments inside a continued instruction are dropped by Docker too
            }
            if (trimmed.endsWith("\\")) {
                current.append(trimmed, 0, trimmed.length() - 1).append(' ');
                continue;
            }
            current.append(trimmed);
            logical.add(current.toString());
            current.setLength(0);
        }
        List<Stage> stages = new ArrayList<>();
        List<Instruction> instructions = null;
        for (String line : logical) {
            String[] split = line.split("\\s+", 2);
            String keyword = split[0].toUpperCase(Locale.ROOT);
            String rest = split.length > 1 ? split[1] : "";
            List<String> flags = new ArrayList<>();
            while (rest.startsWith("--")) {
                String[] flagAndRest = rest.split("\\s+", 2);
                flags.add(flagAndRest[0]);
                rest = flagAndRest.length > 1 ? flagAndRest[1] : "";
            }
            if (keyword.equals("FROM")) {
                String[] words = rest.split("\\s+");
                instructions = new ArrayList<>();
                String name = words.length == 3 && words[1].equalsIgnoreCase("AS") ? words[2] : "#" + stages.size();
                stages.add(new Stage(words[0], name, instructions));
            } else if (instructions != null) {
                instructions.add(new Instruction(keyword, List.copyOf(flags), rest));
            }
        }
        return new Dockerfile(List.copyOf(stages));
    }

    Stage stage(String name) {
        return stages.stream()
                .filter(s -> s.name().equals(name))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no stage " + name + " in "
                        + stages.stream().map(Stage::name).collect(Collectors.joining(", "))));
    }

    /** The stage the image is made of. */
    Stage runtime() {
        return stages.get(stages.size() - 1);
    }
}
