package messaging

// SetStoreHook makes New and NewWithOptions pass every store through wrap
// until restore is called; nil wrap clears it.
func SetStoreHook(wrap func(Store) Store) (restore func()) {
	var old *func(Store) Store
	if wrap == nil {
		old = testHookStore.Swap(nil)
	} else {
		old = testHookStore.Swap(&wrap)
	}
	return func() { testHookStore.Store(old) }
}
