/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The version macros of sa-version.h agree with the project's version
 * (given by meson as EXPECTED_*), and SA_CHECK_VERSION() compares
 * correctly, in C and in #if.
 */
#include <spawn-async.h>

#if !SA_CHECK_VERSION (EXPECTED_MAJOR, EXPECTED_MINOR, EXPECTED_MICRO)
# error "SA_CHECK_VERSION() is false for the version itself"
#endif
#if SA_CHECK_VERSION (EXPECTED_MAJOR, EXPECTED_MINOR, EXPECTED_MICRO + 1)
# error "SA_CHECK_VERSION() is true for a later version"
#endif

static void
test_version_macros (void)
{
  g_autofree char *joined = NULL;

  g_assert_cmpint (SA_MAJOR_VERSION, ==, EXPECTED_MAJOR);
  g_assert_cmpint (SA_MINOR_VERSION, ==, EXPECTED_MINOR);
  g_assert_cmpint (SA_MICRO_VERSION, ==, EXPECTED_MICRO);
  g_assert_cmpstr (SA_VERSION_S, ==, EXPECTED_VERSION);

  joined = g_strdup_printf ("%d.%d.%d", SA_MAJOR_VERSION, SA_MINOR_VERSION, SA_MICRO_VERSION);
  g_assert_cmpstr (joined, ==, SA_VERSION_S);
}

static void
test_version_check (void)
{
  /* The version itself and anything older */
  g_assert_true (SA_CHECK_VERSION (EXPECTED_MAJOR, EXPECTED_MINOR, EXPECTED_MICRO));
  g_assert_true (SA_CHECK_VERSION (EXPECTED_MAJOR, 0, 0));
  g_assert_true (SA_CHECK_VERSION (EXPECTED_MAJOR - 1, 99, 99));
  if (EXPECTED_MINOR > 0)
    g_assert_true (SA_CHECK_VERSION (EXPECTED_MAJOR, EXPECTED_MINOR - 1, 99));
  if (EXPECTED_MICRO > 0)
    g_assert_true (SA_CHECK_VERSION (EXPECTED_MAJOR, EXPECTED_MINOR, EXPECTED_MICRO - 1));

  /* Anything newer */
  g_assert_false (SA_CHECK_VERSION (EXPECTED_MAJOR, EXPECTED_MINOR, EXPECTED_MICRO + 1));
  g_assert_false (SA_CHECK_VERSION (EXPECTED_MAJOR, EXPECTED_MINOR + 1, 0));
  g_assert_false (SA_CHECK_VERSION (EXPECTED_MAJOR + 1, 0, 0));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/version/macros", test_version_macros);
  g_test_add_func ("/version/check", test_version_check);

  return g_test_run ();
}
