#pragma once
// Dataset readers behind load_dataset(); each fills ds.train, ds.test and ds.class_names from ds.root.
#include <attncnn/data/dataset.h>
#include <attncnn/io/files.h>

#include <string>

namespace attncnn::detail {

/// CIFAR-10 (hundred=false) or CIFAR-100 (fine labels, or coarse ones when coarse=true), binary version.
void read_cifar(Dataset& ds, bool hundred, bool coarse);
/// One subfolder per class of PNG/JPEG images.
void read_folder(Dataset& ds, const DatasetOptions& options);

}  // namespace attncnn::detail
