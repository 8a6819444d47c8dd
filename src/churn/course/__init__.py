"""The course: its exercises and the checks that tell a student whether one is done."""
