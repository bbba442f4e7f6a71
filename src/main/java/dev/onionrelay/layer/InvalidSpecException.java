package dev.onionrelay.layer;

import java.util.List;

/** A layer or relay spec with settings that can never work; every one of them is listed. */
public final class InvalidSpecException extends IllegalArgumentException {

    private final List<SpecProblem> problems;

    public InvalidSpecException(List<SpecProblem> problems) {
        super(
                problems.isEmpty()
                        ? "invalid spec"
                        : problems.get(0).field() + ": " + problems.get(0).message()
                                + (problems.size() > 1 ? " (and " + (problems.size() - 1) + " more)" : ""));
        this.problems = List.copyOf(problems);
    }

    public List<SpecProblem> problems() {
        return problems;
    }
}
