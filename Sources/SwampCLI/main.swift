import ArgumentParser
import SwampCore
print("x")
