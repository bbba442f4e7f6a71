package dev.onionrelay.api;

import dev.onionrelay.registry.FieldProblem;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import tools.jackson.core.JacksonException;
import tools.jackson.core.exc.StreamReadException;
import tools.jackson.databind.exc.MismatchedInputException;
import tools.jackson.databind.exc.UnrecognizedPropertyException;

/**
 * Says what is wrong with a request body that could not be read, naming the field by its path ({@code
 * egress[1].protocols[0]}): an unknown field, a duplicate key, a value of the wrong JSON type, or text that is not
 * JSON at all. Never quotes a value from the body; field names are shortened so that a hostile one stays small.
 */
public final class JsonProblems {

    private static final int MAX_NAME = 64;
    private static final Pattern DUPLICATE = Pattern.compile("Duplicate Object property \"(.*?)\"");

    private JsonProblems() {}

    /** What went wrong: a detail for the problem, and the field at fault when there is one. */
    public record Described(String detail, @Nullable FieldProblem field) {}

    public static Described describe(@Nullable Throwable cause) {
        if (cause == null) {
            return new Described("a JSON request body is required", null);
        }
        if (!(cause instanceof JacksonException jackson)) {
            return new Described("the request body is not valid JSON", null);
        }
        String at = path(jackson.getPath());
        if (jackson instanceof UnrecognizedPropertyException unknown) {
            String field = at.isEmpty() ? shorten(unknown.getPropertyName()) : at;
            return problem(field, "unknown field; known fields here: " + known(unknown.getKnownPropertyIds()));
        }
        Matcher duplicate = DUPLICATE.matcher(String.valueOf(jackson.getOriginalMessage()));
        if (jackson instanceof StreamReadException && duplicate.find()) {
            String name = shorten(duplicate.group(1));
            return problem(at.isEmpty() ? name : at + "." + name, "duplicate key");
        }
        if (jackson instanceof WellFormedText.NotUnicodeException && !at.isEmpty()) {
            return problem(at, "not valid Unicode text (a lone surrogate such as \\ud800)");
        }
        if (jackson instanceof MismatchedInputException mismatch && !at.isEmpty()) {
            return problem(at, "wrong type: expected " + expected(mismatch.getTargetType()));
        }
        if (jackson instanceof MismatchedInputException mismatch
                && String.valueOf(mismatch.getOriginalMessage()).contains("Trailing token")) {
            return new Described("the request body has content after its JSON value", null);
        }
        if (jackson instanceof MismatchedInputException mismatch) {
            return new Described("the request body must be a JSON " + expected(mismatch.getTargetType()), null);
        }
        String where = jackson.getLocation() != null
                ? " (line " + jackson.getLocation().getLineNr() + ", column "
                        + jackson.getLocation().getColumnNr() + ")"
                : "";
        return new Described("the request body is not valid JSON" + where, null);
    }

    private static Described problem(String field, String message) {
        return new Described("field '" + field + "': " + message, new FieldProblem(field, message));
    }

    /** {@code egress[1].protocols[0]}: property names joined by dots, list indexes in brackets. */
    static String path(List<JacksonException.Reference> references) {
        StringBuilder path = new StringBuilder();
        for (JacksonException.Reference reference : references) {
            if (reference.getPropertyName() != null) {
                if (!path.isEmpty()) {
                    path.append('.');
                }
                path.append(shorten(reference.getPropertyName()));
            } else if (reference.getIndex() >= 0) {
                path.append('[').append(reference.getIndex()).append(']');
            }
        }
        return path.toString();
    }

    private static String expected(@Nullable Class<?> type) {
        if (type == null) {
            return "another type";
        }
        if (type == String.class) {
            return "a string";
        }
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) {
            return "a whole number";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "true or false";
        }
        if (Collection.class.isAssignableFrom(type) || type.isArray()) {
            return "a list";
        }
        if (Map.class.isAssignableFrom(type) || type.isRecord()) {
            return "an object";
        }
        return "another type";
    }

    private static String known(@Nullable Collection<Object> ids) {
        if (ids == null) {
            return "[]";
        }
        TreeSet<String> names = new TreeSet<>();
        ids.forEach(id -> names.add(String.valueOf(id)));
        return names.toString();
    }

    static String shorten(@Nullable String name) {
        if (name == null) {
            return "";
        }
        StringBuilder safe = new StringBuilder();
        for (int i = 0; i < name.length() && safe.length() < MAX_NAME; i++) {
            char c = name.charAt(i);
            safe.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        return name.length() > MAX_NAME ? safe + "…" : safe.toString();
    }
}
