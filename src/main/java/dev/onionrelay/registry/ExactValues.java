package dev.onionrelay.registry;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * Named values of a request ({@code role}, {@code verify}, {@code profile}, {@code proxyProtocol}...) are matched
 * exactly, as docs/API.md spells them: {@code "SERVER"}, {@code "Strict"} or {@code " full"} is a mistake to point
 * out, naming the allowed values, not one to repair silently.
 */
final class ExactValues {

    private ExactValues() {}

    /** The constant whose lower-case name is {@code value}; null (and a problem for {@code field}) when none is. */
    static <E extends Enum<E>> @Nullable E of(
            List<FieldProblem> errors, String field, @Nullable String value, Class<E> type) {
        if (value == null) {
            return null;
        }
        List<String> allowed = new ArrayList<>();
        for (E constant : type.getEnumConstants()) {
            String label = constant.name().toLowerCase(Locale.ROOT);
            if (label.equals(value)) {
                return constant;
            }
            allowed.add(label);
        }
        errors.add(new FieldProblem(field, "must be one of " + allowed + ", exactly"));
        return null;
    }

    /** Whether {@code value} is one of {@code allowed}, exactly. */
    static boolean oneOf(String value, String... allowed) {
        return List.of(allowed).contains(value);
    }
}
