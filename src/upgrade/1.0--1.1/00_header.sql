/* pericles_rgpd--1.0--1.1.sql — from 1.0 to 1.1.
 *
 * Built by the Makefile from the files of src/upgrade/1.0--1.1, one per
 * capability, in name order.  The full 1.1 install script is the 1.0
 * script followed by this one, so that a fresh 1.1 install and an updated
 * 1.0 are the same by construction (test/pgtap checks the catalogs).
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pericles_rgpd UPDATE TO '1.1'" to load this file. \quit
