package store_test

import (
	"path/filepath"
	"testing"

	"photoflow/store"
	"photoflow/store/storetest"
)

func TestSQLiteAccountsConformance(t *testing.T) {
	storetest.RunAccounts(t, func(t *testing.T) store.Accounts {
		s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "accounts.db"))
		if err != nil {
			t.Fatalf("OpenSQLite: %v", err)
		}
		return s
	})
}
