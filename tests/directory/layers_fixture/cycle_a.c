/* SPDX-License-Identifier: BSD-3-Clause */
/* Half of a deliberate file-level cycle (cycle_a.c <-> cycle_b.c): the
 * directory_layers_catches_a_cycle test expects check_layers.py to reject it,
 * so that a checker gone blind does not pass silently. */
int directory_fixture_a(int n);
int directory_fixture_b(int n);

int
directory_fixture_a(int n)
{
	return n <= 0 ? 0 : directory_fixture_b(n - 1);
}
