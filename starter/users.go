package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"photoflow/pipeline"
	"photoflow/store"
	"photoflow/web"
)

// userCmd manages accounts in the worker's metadata store: `user add NAME` and
// `user passwd NAME`. The password comes from standard input, never from a flag, so it
// stays out of shell history and process listings.
func userCmd(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	if len(args) == 0 {
		return usageError{"user needs a subcommand: add or passwd"}
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	database := fs.String("database", envOr("PHOTOFLOW_DATABASE", filepath.Join("data", "photoflow.db")), "the worker's SQLite metadata store")
	role := fs.String("role", store.RoleUser, "user or reviewer")
	names, err := parse(fs, rest)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		return usageError{"user " + sub + " needs exactly one NAME"}
	}
	name := names[0]
	if err := pipeline.CheckName("name", name); err != nil {
		return usageError{err.Error()}
	}
	if *role != store.RoleUser && *role != store.RoleReviewer {
		return usageError{fmt.Sprintf("--role must be %s or %s", store.RoleUser, store.RoleReviewer)}
	}
	if sub != "add" && sub != "passwd" {
		return usageError{fmt.Sprintf("unknown user subcommand %q", sub)}
	}
	if _, err := os.Stat(*database); err != nil {
		return fmt.Errorf("metadata store %s: %w (start the worker once, or pass --database)", *database, err)
	}
	password, err := readPassword(in)
	if err != nil {
		return err
	}
	hash, err := web.HashPassword(password)
	if err != nil {
		return err
	}
	db, err := store.OpenSQLite(*database)
	if err != nil {
		return err
	}
	defer db.Close()
	switch sub {
	case "add":
		err = db.CreateUser(ctx, store.User{Name: name, Role: *role, PasswordHash: hash, CreatedAt: time.Now()}, false)
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("user %s exists; use `starter user passwd %s`", name, name)
		}
		if err == nil {
			fmt.Fprintf(out, "user %s added (%s)\n", name, *role)
		}
	case "passwd":
		if err = db.SetPassword(ctx, name, hash); err == nil {
			fmt.Fprintf(out, "password of %s changed; its sessions are signed out\n", name)
		}
	}
	return err
}

func readPassword(in io.Reader) (string, error) {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("give the password on standard input, e.g. `echo 'a long passphrase' | starter user add NAME`")
	}
	return pw, nil
}
