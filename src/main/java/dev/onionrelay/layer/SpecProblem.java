package dev.onionrelay.layer;

/**
 * One setting of a layer or relay spec that can never work.
 *
 * @param field the setting at fault, relative to the spec it was found in ({@code protocols[0]}, {@code
 *     egress[1].name})
 * @param message why, in words a user can act on
 */
public record SpecProblem(String field, String message) {

    /** The same problem seen from an enclosing spec: {@code protocols[0]} under {@code egress[1]}. */
    public SpecProblem under(String prefix) {
        if (prefix.isEmpty()) {
            return this;
        }
        return new SpecProblem(field.isEmpty() ? prefix : prefix + "." + field, message);
    }
}
