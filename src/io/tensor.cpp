// placeholder, replaced by the io implementation
#include "supra/tensor.h"
