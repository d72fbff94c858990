"""Transfers between bank accounts under locks; verify checks that no money appeared or
vanished.

Arguments: accounts (10), balance (100, each account's opening balance), transfers (100 per
instance).
"""

from hzlab_guest import Map, Scenario, runtime


def accounts():
    return runtime.arg("accounts", 10, int)


def balance():
    return runtime.arg("balance", 100, int)


class Bank(Scenario):
    def setup(self):
        bank = Map("accounts")
        bank.clear()
        for a in range(accounts()):
            bank.set(a, balance())

    def run(self):
        bank = Map("accounts")
        n = accounts()
        me = runtime.index()
        for i in range(runtime.arg("transfers", 100, int)):
            source, target = (me + i) % n, (me + 2 * i + 1) % n
            if source == target:
                continue
            # Lock both accounts, always the lower one first, so that transfers cannot
            # deadlock; each `with` block unlocks at its end.
            with bank.lock(min(source, target)), bank.lock(max(source, target)):
                amount = 1 + i % 5
                bank.set(source, bank.get(source, 0) - amount)
                bank.set(target, bank.get(target, 0) + amount)
            runtime.count("transfers", 1)

    def verify(self):
        bank = Map("accounts")
        total = sum(bank.get(a, 0) for a in range(accounts()))
        runtime.record("total", total)
        runtime.record("transfers", runtime.total("transfers"))
        expected = accounts() * balance()
        runtime.check("total-conserved", total == expected, f"{total}, expected {expected}")


# componentize-py exports the class named WitWorld.
WitWorld = Bank.export()
